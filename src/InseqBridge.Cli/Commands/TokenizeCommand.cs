using System.CommandLine;
using System.Text.Json;
using InseqBridge.Tokenizers;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>tokenize</c>: prints the ids and tokens of a text as <c>{"ids": [...], "tokens": [...]}</c>; with
/// <c>--text-file</c>, one such line per string of a JSONL file; <c>--decode</c> adds the decoded ids with and
/// without special tokens. Works on a folder that holds only tokenizer files.
/// </summary>
public static class TokenizeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        model.Description = "Checkpoint or tokenizer folder (tokenizer.json, or the slow tokenizer files).";
        var text = new Option<string?>("--text") { Description = "Text to tokenize.", HelpName = "TEXT" };
        var textFile = new Option<string?>("--text-file")
        {
            Description = "JSONL file with one JSON string per line; prints one JSON object per line.",
            HelpName = "FILE",
        };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "Do not add the model's special tokens." };
        var decode = new Option<bool>("--decode")
        {
            Description = "Also print \"decoded\" (decode of the ids, special tokens kept) and \"decoded_skip_special\".",
        };
        Option<TokenizerKind?> tokenizerKind = CommonOptions.Tokenizer();
        var command = new Command("tokenize", "Tokenize a text with a checkpoint's tokenizer (probe).")
        {
            model, text, textFile, noSpecial, decode, tokenizerKind,
        };
        command.SetAction(parseResult =>
        {
            string? single = parseResult.GetValue(text);
            string? file = parseResult.GetValue(textFile);
            if ((single is null) == (file is null))
            {
                throw new CliUsageException("Give exactly one of --text TEXT or --text-file FILE.");
            }
            // Read the texts before loading the tokenizer: a bad file fails fast.
            IReadOnlyList<string> texts = file is null ? [single!] : ReadJsonLines(file);
            IHfTokenizer tokenizer = ProbeModel.LoadTokenizer(parseResult.GetValue(model)!,
                CommonOptions.TokenizerKindOf(parseResult.GetValue(tokenizerKind)));
            bool addSpecial = !parseResult.GetValue(noSpecial);
            bool withDecode = parseResult.GetValue(decode);
            TextWriter output = parseResult.InvocationConfiguration.Output;
            foreach (string t in texts)
            {
                EncodedTokens encoded = tokenizer.EncodeWithTokens(t, addSpecial);
                JsonOutput.WriteLine(output, w =>
                {
                    w.WriteArray("ids", encoded.Ids);
                    w.WriteArray("tokens", encoded.Tokens);
                    if (withDecode)
                    {
                        w.WriteString("decoded", tokenizer.Decode(encoded.Ids, skipSpecialTokens: false));
                        w.WriteString("decoded_skip_special", tokenizer.Decode(encoded.Ids, skipSpecialTokens: true));
                    }
                });
            }
            return ExitCodes.Success;
        });
        return command;
    }

    private static List<string> ReadJsonLines(string path)
    {
        if (!File.Exists(path))
        {
            throw new CliUsageException($"--text-file '{path}' does not exist.");
        }
        var texts = new List<string>();
        int lineNumber = 0;
        foreach (string line in File.ReadLines(path))
        {
            lineNumber++;
            if (line.Trim().Length == 0)
            {
                continue;
            }
            try
            {
                using var document = JsonDocument.Parse(line);
                if (document.RootElement.ValueKind != JsonValueKind.String)
                {
                    throw new CliUsageException(
                        $"{path}, line {lineNumber}: expected a JSON string (one per line), not {document.RootElement.ValueKind.ToString().ToLowerInvariant()}.");
                }
                texts.Add(document.RootElement.GetString()!);
            }
            catch (JsonException e)
            {
                throw new CliUsageException($"{path}, line {lineNumber}: not valid JSON ({e.Message.Split('.')[0]}); write one JSON string per line, e.g. \"Hello world\".");
            }
        }
        return texts;
    }
}
