using System.Text;
using InseqBridge.Tokenizers.Common;
using InseqBridge.Tokenizers.SentencePiece;

namespace InseqBridge.Tokenizers.Models;

/// <summary>
/// <c>T5Tokenizer</c> in legacy mode: SentencePiece over <c>spiece.model</c>, the <c>&lt;extra_id_N&gt;</c> sentinels
/// above the pieces in reverse order, <c>&lt;/s&gt;</c> appended unless already last.
/// </summary>
internal sealed class T5TokenizerModel : ITokenizerModel
{
    private const string SpaceSymbol = "\u2581";

    private static readonly Dictionary<string, string> Defaults = new()
    {
        ["eos_token"] = "</s>",
        ["unk_token"] = "<unk>",
        ["pad_token"] = "<pad>",
    };

    private readonly SentencePieceProcessor _processor;
    private readonly int _distinctPieces;

    private T5TokenizerModel(SentencePieceProcessor processor)
    {
        _processor = processor;
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var piece in processor.Vocabulary.Model.Pieces)
        {
            seen.Add(piece.Piece);
        }
        _distinctPieces = seen.Count;
    }

    /// <summary>Loads the T5 tokenizer of <paramref name="folder"/>.</summary>
    public static SlowTokenizer CreateTokenizer(TokenizerFolder folder)
    {
        if (!folder.GetBool("legacy", true))
        {
            throw new TokenizerLoadException(
                $"'{folder.PathOf("tokenizer_config.json")}' sets legacy=false; only the legacy T5Tokenizer behaviour is implemented.");
        }
        var model = new T5TokenizerModel(SentencePieceProcessor.Load(folder.PathOf("spiece.model")));
        int extraIds = folder.GetInt("extra_ids", 100);
        var sentinels = new List<AddedToken>(extraIds);
        for (int i = 0; i < extraIds; i++)
        {
            sentinels.Add(new AddedToken($"<extra_id_{i}>", model.VocabSize + extraIds - 1 - i, Special: true,
                LStrip: true, RStrip: true, SingleWord: false));
        }
        // Sentinels only come from extra_ids when the saved files do not list them already.
        bool listed = folder.AddedTokensDecoder.Any(t => t.Content.StartsWith("<extra_id_", StringComparison.Ordinal)) ||
                      folder.AddedTokensFile.Keys.Any(k => k.StartsWith("<extra_id_", StringComparison.Ordinal));
        return new SlowTokenizer(model, folder, listed ? null : sentinels);
    }

    /// <inheritdoc />
    public string TokenizerClass => "T5Tokenizer";

    /// <inheritdoc />
    public int VocabSize => _processor.Vocabulary.Count;

    /// <inheritdoc />
    public int DistinctTokenCount => _distinctPieces;

    /// <inheritdoc />
    public IReadOnlyDictionary<string, string> SpecialTokenDefaults => Defaults;

    /// <inheritdoc />
    public bool ContainsToken(string token) => _processor.Vocabulary.Contains(token);

    /// <inheritdoc />
    public string PrepareForTokenization(string text) => text;

    /// <inheritdoc />
    public void Tokenize(string text, bool asTarget, List<string> output) =>
        output.AddRange(_processor.EncodeAsPieces(text));

    /// <inheritdoc />
    public int? TryTokenToId(string token) =>
        _processor.Vocabulary.Contains(token) ? _processor.Vocabulary.PieceToId(token) : null;

    /// <inheritdoc />
    public string? IdToToken(int id) => _processor.Vocabulary.IdToPiece(id);

    /// <inheritdoc />
    public string TokensToString(List<string> tokens, SlowTokenizer owner)
    {
        // The dummy-prefix ▁ of the first token is dropped; special tokens bypass SentencePiece and get a space in
        // front unless they follow another special token; the result is stripped.
        if (tokens.Count > 0 && tokens[0].StartsWith(SpaceSymbol, StringComparison.Ordinal))
        {
            tokens = [tokens[0][SpaceSymbol.Length..], .. tokens.Skip(1)];
        }
        var current = new List<string>();
        var text = new StringBuilder();
        bool previousSpecial = false;
        foreach (var token in tokens)
        {
            if (owner.IsSpecialToken(token))
            {
                if (!previousSpecial)
                {
                    text.Append(' ');
                }
                text.Append(_processor.DecodePieces(current)).Append(token);
                previousSpecial = true;
                current.Clear();
            }
            else
            {
                current.Add(token);
                previousSpecial = false;
            }
        }
        text.Append(_processor.DecodePieces(current));
        return PythonText.Strip(text.ToString());
    }

    /// <inheritdoc />
    public List<int> BuildInputsWithSpecialTokens(List<int> ids, SlowTokenizer owner)
    {
        int eos = owner.ConvertTokenToId(owner.SpecialTokenContent("eos_token") ?? "</s>");
        if (ids.Count > 0 && ids[^1] == eos)
        {
            return ids;
        }
        return [.. ids, eos];
    }
}
