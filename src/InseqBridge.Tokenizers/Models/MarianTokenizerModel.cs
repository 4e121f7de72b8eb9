using System.Text;
using System.Text.RegularExpressions;
using InseqBridge.Tokenizers.Common;
using InseqBridge.Tokenizers.SentencePiece;

namespace InseqBridge.Tokenizers.Models;

/// <summary>
/// <c>MarianTokenizer</c>: SentencePiece segmentation with <c>source.spm</c> (or <c>target.spm</c> for targets), the
/// pieces mapped to ids through the shared <c>vocab.json</c> (pieces it lacks become <c>&lt;unk&gt;</c>), <c>&lt;/s&gt;</c>
/// appended, and decoding with <c>target.spm</c>.
/// </summary>
internal sealed partial class MarianTokenizerModel : ITokenizerModel
{
    private static readonly Dictionary<string, string> Defaults = new()
    {
        ["eos_token"] = "</s>",
        ["unk_token"] = "<unk>",
        ["pad_token"] = "<pad>",
    };

    private readonly SentencePieceProcessor _source;
    private readonly SentencePieceProcessor _target;
    private readonly Dictionary<string, int> _encoder;
    private readonly Dictionary<int, string> _decoder;

    private MarianTokenizerModel(SentencePieceProcessor source, SentencePieceProcessor target, Dictionary<string, int> encoder)
    {
        _source = source;
        _target = target;
        _encoder = encoder;
        _decoder = new Dictionary<int, string>(encoder.Count);
        foreach (var (token, id) in encoder)
        {
            _decoder[id] = token;
        }
    }

    /// <summary>Loads the Marian tokenizer of <paramref name="folder"/>.</summary>
    public static SlowTokenizer CreateTokenizer(TokenizerFolder folder)
    {
        if (folder.GetBool("separate_vocabs", false))
        {
            throw new TokenizerLoadException(
                $"'{folder.PathOf("tokenizer_config.json")}' sets separate_vocabs=true, which is not supported (only a shared vocab.json).");
        }
        var encoder = JsonVocabulary.Read(folder.PathOf("vocab.json"));
        var model = new MarianTokenizerModel(SentencePieceProcessor.Load(folder.PathOf("source.spm")),
            SentencePieceProcessor.Load(folder.PathOf("target.spm")), encoder);
        return new SlowTokenizer(model, folder);
    }

    /// <inheritdoc />
    public string TokenizerClass => "MarianTokenizer";

    /// <inheritdoc />
    public int VocabSize => _encoder.Count;

    /// <inheritdoc />
    public int DistinctTokenCount => _encoder.Count;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SpecialTokenDefaults => Defaults;

    /// <inheritdoc />
    public bool ContainsToken(string token) => _encoder.ContainsKey(token);

    /// <inheritdoc />
    public string PrepareForTokenization(string text) => text;

    /// <inheritdoc />
    public void Tokenize(string text, bool asTarget, List<string> output)
    {
        // A leading ">>fr<<" language code is kept as one token; every code is removed from the text itself.
        var match = LanguageCode().Match(text);
        if (match.Success && match.Index == 0)
        {
            output.Add(match.Value);
        }
        string rest = LanguageCode().Replace(text, "");
        output.AddRange((asTarget ? _target : _source).EncodeAsPieces(rest));
    }

    /// <inheritdoc />
    public int? TryTokenToId(string token) => _encoder.TryGetValue(token, out int id) ? id : null;

    /// <inheritdoc />
    public string? IdToToken(int id) => _decoder.TryGetValue(id, out var token) ? token : null;

    /// <inheritdoc />
    public string TokensToString(List<string> tokens, SlowTokenizer owner)
    {
        // Special tokens are not given to SentencePiece; each is followed by a space, and the result is stripped.
        var current = new List<string>();
        var text = new StringBuilder();
        foreach (var token in tokens)
        {
            if (owner.IsSpecialToken(token))
            {
                text.Append(_target.DecodePieces(current)).Append(token).Append(' ');
                current.Clear();
            }
            else
            {
                current.Add(token);
            }
        }
        text.Append(_target.DecodePieces(current));
        text.Replace("\u2581", " ");
        return PythonText.Strip(text.ToString());
    }

    /// <inheritdoc />
    public List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner)
    {
        var result = new List<int>(ids) { owner.ConvertTokenToId(owner.SpecialTokenContent("eos_token") ?? "</s>") };
        return result;
    }

    [GeneratedRegex(">>.+<<", RegexOptions.CultureInvariant)]
    private static partial Regex LanguageCode();
}
