using System.CommandLine;
using InseqBridge.TorchSharp.Generation;

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
        Option<string?> tokenizer = CommonOptions.Tokenizer();
        Option<string> input = CommonOptions.Input();
        var maxNewTokens = new Option<int?>("--max-new-tokens")
        {
            Description = "Maximum number of new tokens (default: from generation_config.json).",
            HelpName = "N",
        };
        var command = new Command("generate", "Generate a continuation greedily (probe).") { model, input, maxNewTokens, tokenizer };
        command.SetAction(parseResult =>
        {
            int? maxNew = parseResult.GetValue(maxNewTokens);
            if (maxNew is < 0)
            {
                throw new CliUsageException($"--max-new-tokens must be >= 0 (got {maxNew}).");
            }

            using ProbeModel probe = ProbeModel.Load(parseResult.GetValue(model)!, CommonOptions.TokenizerKindOf(parseResult.GetValue(tokenizer)));
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
        int[] generated = Generator.Generate(
            probe.Model, probe.Generation, [prompt], new GenerationOptions { MaxNewTokens = maxNewTokens })[0];
        return probe.Model.IsEncoderDecoder ? [probe.DecoderStartTokenId, .. generated] : generated;
    }
}
