using System.CommandLine;
using InseqBridge.TorchSharp.Generation;
using InseqBridge.TorchSharp.Models;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>generate</c>: greedy generation, printed as <c>{"ids": [...], "text": "..."}</c>. <c>ids</c> is what
/// transformers' <c>generate</c> returns minus the prompt: the new tokens (decoder-only) or the decoder start
/// token followed by the new tokens (encoder-decoder); <c>text</c> decodes them skipping special tokens.
/// </summary>
public static class GenerateCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        Option<string> input = CommonOptions.Input();
        var maxNewTokens = new Option<int?>("--max-new-tokens")
        {
            Description = "Maximum number of new tokens (default: from generation_config.json).",
            HelpName = "N",
        };
        var command = new Command("generate", "Generate a continuation greedily (probe).") { model, input, maxNewTokens };
        command.SetAction(parseResult =>
        {
            int? maxNew = parseResult.GetValue(maxNewTokens);
            if (maxNew is < 1)
            {
                throw new CliUsageException($"--max-new-tokens must be at least 1 (got {maxNew}); transformers refuses 0 too.");
            }

            using ProbeModel probe = ProbeModel.Load(parseResult.GetValue(model)!);
            IReadOnlyList<int> ids = Generate(probe, parseResult.GetValue(input)!, maxNew);
            string text = probe.Tokenizer.Decode(ids, skipSpecialTokens: true);
            JsonOutput.WriteLine(parseResult.InvocationConfiguration.Output, w =>
            {
                w.WriteArray("ids", ids);
                w.WriteString("text", text);
            });
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Generates from <paramref name="input"/>; returns the ids as transformers' <c>generate</c> does, minus the prompt.</summary>
    public static IReadOnlyList<int> Generate(ProbeModel probe, string input, int? maxNewTokens)
    {
        ArgumentNullException.ThrowIfNull(probe);
        IReadOnlyList<int> prompt = probe.Tokenizer.Encode(input);
        TokenIdGuard.Check(prompt, probe.Model, "the tokenizer");
        int[] generated = Generator.Generate(
            probe.Model, probe.Generation, [prompt], new GenerationOptions { MaxNewTokens = maxNewTokens }, CliContext.Token)[0];
        return probe.Model.IsEncoderDecoder ? [probe.DecoderStartTokenId, .. generated] : generated;
    }
}
