using System.CommandLine;
using InseqBridge.Tokenizers;

namespace InseqBridge.Cli.Commands;

/// <summary><c>tokenize</c>: prints the ids and tokens of a text as <c>{"ids": [...], "tokens": [...]}</c>.</summary>
public static class TokenizeCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        var text = new Option<string>("--text") { Description = "Text to tokenize.", Required = true, HelpName = "TEXT" };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "Do not add the model's special tokens." };
        var command = new Command("tokenize", "Tokenize a text with a checkpoint's tokenizer (probe).") { model, text, noSpecial };
        command.SetAction(parseResult =>
        {
            IHfTokenizer tokenizer = ProbeModel.LoadTokenizer(parseResult.GetValue(model)!);
            IReadOnlyList<int> ids = tokenizer.Encode(parseResult.GetValue(text)!, addSpecialTokens: !parseResult.GetValue(noSpecial));
            IReadOnlyList<string> tokens = tokenizer.ConvertIdsToTokens(ids);
            JsonOutput.WriteLine(parseResult.InvocationConfiguration.Output, w =>
            {
                w.WriteArray("ids", ids);
                w.WriteArray("tokens", tokens);
            });
            return ExitCodes.Success;
        });
        return command;
    }
}
