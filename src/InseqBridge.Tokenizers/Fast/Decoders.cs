using System.Text;
using InseqBridge.Tokenizers.ByteLevel;

namespace InseqBridge.Tokenizers.Fast;

/// <summary>A <c>decoder</c> of <c>tokenizer.json</c> (the Rust library's <c>decode_chain</c>).</summary>
internal abstract class Decoder
{
    /// <summary>Transforms the token strings; the decoded text is their concatenation.</summary>
    public abstract List<string> DecodeChain(List<string> tokens);
}

internal sealed class SequenceDecoder(IReadOnlyList<Decoder> parts) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        foreach (var part in parts)
        {
            tokens = part.DecodeChain(tokens);
        }
        return tokens;
    }
}

internal sealed class ByteLevelDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var bytes = new List<byte>();
        foreach (var token in tokens)
        {
            int mark = bytes.Count;
            bool all = true;
            foreach (char c in token)
            {
                if (ByteLevelAlphabet.TryDecode(c, out byte b))
                {
                    bytes.Add(b);
                }
                else
                {
                    all = false;
                    break;
                }
            }
            if (!all)
            {
                bytes.RemoveRange(mark, bytes.Count - mark);
                bytes.AddRange(Encoding.UTF8.GetBytes(token));
            }
        }
        return [Encoding.UTF8.GetString(bytes.ToArray())];
    }
}

internal sealed class MetaspaceDecoder(char replacement, PrependScheme scheme) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            var builder = new StringBuilder(tokens[i].Length);
            foreach (char c in tokens[i])
            {
                if (c == replacement)
                {
                    if (!(i == 0 && scheme != PrependScheme.Never))
                    {
                        builder.Append(' ');
                    }
                }
                else
                {
                    builder.Append(c);
                }
            }
            result.Add(builder.ToString());
        }
        return result;
    }
}

internal sealed class WordPieceDecoder(string prefix, bool cleanup) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            string token = tokens[i];
            if (i != 0)
            {
                token = token.StartsWith(prefix, StringComparison.Ordinal) ? token[prefix.Length..] : " " + token;
            }
            result.Add(cleanup ? Cleanup(token) : token);
        }
        return result;
    }

    public static string Cleanup(string s) => s.Replace(" .", ".").Replace(" ?", "?").Replace(" !", "!").Replace(" ,", ",")
        .Replace(" ' ", "'").Replace(" n't", "n't").Replace(" 'm", "'m").Replace(" do not", " don't")
        .Replace(" 's", "'s").Replace(" 've", "'ve").Replace(" 're", "'re");
}

internal sealed class BpeSuffixDecoder(string suffix) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        for (int i = 0; i < tokens.Count; i++)
        {
            result.Add(tokens[i].Replace(suffix, i == tokens.Count - 1 ? "" : " "));
        }
        return result;
    }
}

internal sealed class CtcDecoder(string padToken, string wordDelimiter, bool cleanup) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>();
        string? previous = null;
        foreach (var token in tokens)
        {
            if (token == previous)
            {
                continue;
            }
            previous = token;
            string replaced = token.Replace(padToken, "");
            if (cleanup)
            {
                replaced = WordPieceDecoder.Cleanup(replaced).Replace(wordDelimiter, " ");
            }
            if (replaced.Length > 0)
            {
                result.Add(replaced);
            }
        }
        return result;
    }
}

internal sealed class ReplaceDecoder(SplitPattern pattern, string content) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) =>
        tokens.ConvertAll(t => ReplaceNormalizer.Replace(pattern, content, t));
}

internal sealed class ByteFallbackDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        var pending = new List<byte>();
        foreach (var token in tokens)
        {
            if (token.Length == 6 && token.StartsWith("<0x", StringComparison.Ordinal) && token[5] == '>' &&
                byte.TryParse(token.AsSpan(3, 2), System.Globalization.NumberStyles.AllowHexSpecifier, null, out byte b))
            {
                pending.Add(b);
                continue;
            }
            Flush(pending, result);
            result.Add(token);
        }
        Flush(pending, result);
        return result;
    }

    private static readonly UTF8Encoding Strict = new(false, throwOnInvalidBytes: true);

    private static void Flush(List<byte> pending, List<string> result)
    {
        if (pending.Count == 0)
        {
            return;
        }
        try
        {
            result.Add(Strict.GetString(pending.ToArray()));
        }
        catch (DecoderFallbackException)
        {
            for (int i = 0; i < pending.Count; i++)
            {
                result.Add("\uFFFD");
            }
        }
        pending.Clear();
    }
}

internal sealed class FuseDecoder : Decoder
{
    public override List<string> DecodeChain(List<string> tokens) => [string.Concat(tokens)];
}

internal sealed class StripDecoder(char content, int start, int stop) : Decoder
{
    public override List<string> DecodeChain(List<string> tokens)
    {
        var result = new List<string>(tokens.Count);
        foreach (var token in tokens)
        {
            var chars = UnicodeText.CodePoints(token);
            int startCut = 0;
            for (int i = 0; i < Math.Min(start, chars.Count); i++)
            {
                if (chars[i] == content)
                {
                    startCut = i + 1;
                }
                else
                {
                    break;
                }
            }
            int stopCut = chars.Count;
            for (int i = 0; i < stop && i < chars.Count; i++)
            {
                int index = chars.Count - i - 1;
                if (chars[index] == content)
                {
                    stopCut = index;
                }
                else
                {
                    break;
                }
            }
            var builder = new StringBuilder();
            for (int i = startCut; i < Math.Max(startCut, stopCut); i++)
            {
                UnicodeText.Append(builder, chars[i]);
            }
            result.Add(builder.ToString());
        }
        return result;
    }
}
