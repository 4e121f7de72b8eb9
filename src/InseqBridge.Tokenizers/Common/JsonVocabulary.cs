using System.Text.Json;

namespace InseqBridge.Tokenizers.Common;

/// <summary>Reads a <c>{"token": id, ...}</c> JSON file such as <c>vocab.json</c> or <c>added_tokens.json</c>.</summary>
internal static class JsonVocabulary
{
    /// <summary>Reads <paramref name="path"/>; any problem becomes a <see cref="TokenizerLoadException"/> naming the file.</summary>
    public static Dictionary<string, int> Read(string path)
    {
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new TokenizerLoadException($"Cannot read '{path}': {e.Message}", e);
        }
        var result = new Dictionary<string, int>(StringComparer.Ordinal);
        try
        {
            var reader = new Utf8JsonReader(bytes, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Skip });
            if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
            {
                throw new TokenizerLoadException($"'{path}' must hold a JSON object mapping tokens to integer ids.");
            }
            while (reader.Read() && reader.TokenType != JsonTokenType.EndObject)
            {
                string token = reader.GetString()!;
                if (!reader.Read() || reader.TokenType != JsonTokenType.Number || !reader.TryGetInt32(out int id) || id < 0)
                {
                    throw new TokenizerLoadException(
                        $"'{path}': the id of token '{token}' must be a non-negative integer.");
                }
                result[token] = id;
            }
        }
        catch (JsonException e)
        {
            throw new TokenizerLoadException($"'{path}' is not valid JSON: {e.Message}", e);
        }
        catch (InvalidOperationException e)
        {
            throw new TokenizerLoadException($"'{path}' is not a token → id JSON object: {e.Message}", e);
        }
        return result;
    }
}
