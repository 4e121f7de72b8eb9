using System.Text;
using InseqBridge.Tokenizers.Common;

namespace InseqBridge.Tokenizers.ByteLevel;

/// <summary>
/// GPT-2 byte-level BPE over <c>vocab.json</c> + <c>merges.txt</c>: the model half of <c>GPT2Tokenizer</c> and
/// <c>BartTokenizer</c> (which differ only in special tokens and the prefix-space rule).
/// </summary>
internal sealed class ByteLevelBpeModel : ITokenizerModel
{
    private static readonly Dictionary<string, string> Gpt2Defaults = new()
    {
        ["bos_token"] = "<|endoftext|>",
        ["eos_token"] = "<|endoftext|>",
        ["unk_token"] = "<|endoftext|>",
    };

    private static readonly Dictionary<string, string> BartDefaults = new()
    {
        ["bos_token"] = "<s>",
        ["eos_token"] = "</s>",
        ["sep_token"] = "</s>",
        ["cls_token"] = "<s>",
        ["unk_token"] = "<unk>",
        ["pad_token"] = "<pad>",
        ["mask_token"] = "<mask>",
    };

    private readonly Dictionary<string, int> _encoder;
    private readonly Dictionary<int, string> _decoder;
    private readonly BpeMergeTable _merges;
    private readonly bool _isBart;
    private readonly bool _addPrefixSpace;
    private readonly bool _addBosToken;
    private readonly string? _className;
    private readonly Func<List<int>, List<int>>? _postProcessor;

    /// <summary>Creates the model from its parts.</summary>
    /// <param name="encoder">Token → id.</param>
    /// <param name="merges">The ranked merges.</param>
    /// <param name="isBart">BART special-token wrapping and prefix-space rule.</param>
    /// <param name="addPrefixSpace">Prepend a space to the text.</param>
    /// <param name="addBosToken">GPT-2's <c>add_bos_token</c>.</param>
    /// <param name="className">Overrides the reported class name.</param>
    /// <param name="postProcessor">Overrides <c>build_inputs_with_special_tokens</c> (fast-tokenizer post-processors).</param>
    public ByteLevelBpeModel(Dictionary<string, int> encoder, BpeMergeTable merges, bool isBart, bool addPrefixSpace,
        bool addBosToken, string? className = null, Func<List<int>, List<int>>? postProcessor = null)
    {
        _className = className;
        _postProcessor = postProcessor;
        _encoder = encoder;
        _decoder = new Dictionary<int, string>(encoder.Count);
        foreach (var (token, id) in encoder)
        {
            _decoder[id] = token;
        }
        _merges = merges;
        _isBart = isBart;
        _addPrefixSpace = addPrefixSpace;
        _addBosToken = addBosToken;
    }

    /// <summary>Loads <c>vocab.json</c> and <c>merges.txt</c> of <paramref name="folder"/>.</summary>
    /// <param name="folder">The tokenizer folder.</param>
    /// <param name="isBart">BART's special tokens and prefix-space rule.</param>
    /// <param name="className">The class reported (CodeGenTokenizer tokenizes exactly as GPT2Tokenizer).</param>
    public static ByteLevelBpeModel Load(TokenizerFolder folder, bool isBart, string? className = null)
    {
        foreach (var file in new[] { "vocab.json", "merges.txt" })
        {
            if (!folder.Has(file))
            {
                throw new TokenizerLoadException(
                    $"'{folder.PathOf(file)}' is missing: a {(isBart ? "BartTokenizer" : "GPT2Tokenizer")} needs vocab.json and merges.txt.");
            }
        }
        var encoder = JsonVocabulary.Read(folder.PathOf("vocab.json"));
        var merges = MergesFile.Read(folder.PathOf("merges.txt"));
        return new ByteLevelBpeModel(encoder, new BpeMergeTable(merges), isBart,
            folder.GetBool("add_prefix_space", false), !isBart && folder.GetBool("add_bos_token", false), className);
    }

    /// <inheritdoc />
    public string TokenizerClass => _className ?? (_isBart ? "BartTokenizer" : "GPT2Tokenizer");

    /// <inheritdoc />
    public int VocabSize => _encoder.Count;

    /// <inheritdoc />
    public int DistinctTokenCount => _encoder.Count;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SpecialTokenDefaults => _isBart ? BartDefaults : Gpt2Defaults;

    /// <inheritdoc />
    public bool ContainsToken(string token) => _encoder.ContainsKey(token);

    /// <inheritdoc />
    public string PrepareForTokenization(string text)
    {
        if (!_addPrefixSpace)
        {
            return text;
        }
        // BART only adds the space in front of text that does not already start with whitespace.
        if (_isBart && (text.Length == 0 || PythonText.IsSpace(text[0])))
        {
            return text;
        }
        return " " + text;
    }

    /// <inheritdoc />
    public void Tokenize(string text, bool asTarget, List<string> output)
    {
        var words = new List<string>();
        Gpt2PreTokenizer.Split(text, words);
        var builder = new StringBuilder();
        foreach (var word in words)
        {
            builder.Clear();
            foreach (byte b in Encoding.UTF8.GetBytes(word))
            {
                builder.Append(ByteLevelAlphabet.Encode(b));
            }
            output.AddRange(_merges.Encode(builder.ToString()));
        }
    }

    /// <inheritdoc />
    public int? TryTokenToId(string token) => _encoder.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc />
    public string? IdToToken(int id) => _decoder.TryGetValue(id, out var token) ? token : null;

    /// <inheritdoc />
    public string TokensToString(List<string> tokens, SlowTokenizer owner)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            foreach (char c in token)
            {
                if (ByteLevelAlphabet.TryDecode(c, out byte b))
                {
                    bytes.Add(b);
                }
                else
                {
                    // Outside the byte alphabet (only possible for hand-made added tokens): keep the character.
                    bytes.AddRange(Encoding.UTF8.GetBytes(c.ToString()));
                }
            }
        }
        // errors="replace": invalid UTF-8 (a token cut inside a multi-byte character) becomes U+FFFD.
        return Encoding.UTF8.GetString(bytes.ToArray());
    }

    /// <inheritdoc />
    public List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner)
    {
        if (_postProcessor is not null)
        {
            return _postProcessor(ids);
        }
        if (_isBart)
        {
            // <s> X </s> (cls/sep).
            var cls = owner.ConvertTokenToId(owner.SpecialTokenContent("cls_token") ?? "<s>");
            var sep = owner.ConvertTokenToId(owner.SpecialTokenContent("sep_token") ?? "</s>");
            var result = new List<int>(ids.Count + 2) { cls };
            result.AddRange(ids);
            result.Add(sep);
            return result;
        }
        if (_addBosToken && owner.Special.Bos is { } bos)
        {
            var result = new List<int>(ids.Count + 1) { bos.Id };
            result.AddRange(ids);
            return result;
        }
        return ids;
    }
}
