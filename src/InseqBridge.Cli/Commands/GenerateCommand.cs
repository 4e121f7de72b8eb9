using System.CommandLine;
using InseqBridge.Tokenizers;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Generation;
using InseqBridge.Native.Models;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>generate</c>: greedy generation, printed as <c>{"ids": [...], "text": "..."}</c>. <c>ids</c> is what
/// transformers' <c>generate</c> returns minus the prompt: the new tokens (decoder-only) or the decoder start
/// token followed by the new tokens (encoder-decoder); <c>text</c> decodes them skipping special tokens (null when
/// <c>--input-ids</c> replaced <c>--input</c> and the folder's tokenizer does not load). Generation stops at any of
/// the eos ids of generation_config.json (or config.json).
/// </summary>
public static class GenerateCommand
{
    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        Option<TokenizerKind?> tokenizer = CommonOptions.Tokenizer();
        Option<string> input = CommonOptions.Input();
        input.Required = false;
        Option<string?> inputIds = CommonOptions.InputIds();
        Option<ModelDType?> dtype = CommonOptions.DType();
        var maxNewTokens = new Option<int?>("--max-new-tokens")
        {
            Description = "Maximum number of new tokens (default: from generation_config.json).",
            HelpName = "N",
        };
        var command = new Command("generate", "Generate a continuation greedily (probe).") { model, input, inputIds, maxNewTokens, dtype, tokenizer };
        command.SetAction(parseResult =>
        {
            int? maxNew = parseResult.GetValue(maxNewTokens);
            if (maxNew is < 1)
            {
                throw new CliUsageException($"--max-new-tokens must be at least 1 (got {maxNew}); transformers refuses 0 too.");
            }

            int[]? givenIds = ForwardCommand.InputIdsOrText(parseResult, input, inputIds);
            using ProbeModel probe = ProbeModel.Load(
                parseResult.GetValue(model)!, CommonOptions.ParseDType(parseResult.GetValue(dtype)), tokenizerRequired: givenIds is null,
                CommonOptions.TokenizerKindOf(parseResult.GetValue(tokenizer)));
            IReadOnlyList<int> ids = Generate(probe, givenIds ?? probe.Tokenizer.Encode(parseResult.GetValue(input)!), maxNew);
            string? text = probe.OptionalTokenizer?.Decode(ids, skipSpecialTokens: true);
            JsonOutput.WriteLine(parseResult.InvocationConfiguration.Output, w =>
            {
                w.WriteArray("ids", ids);
                if (text is null)
                {
                    w.WriteNull("text");
                }
                else
                {
                    w.WriteString("text", text);
                }
            });
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Generates from <paramref name="input"/>; returns the ids as transformers' <c>generate</c> does, minus the prompt.</summary>
    public static IReadOnlyList<int> Generate(ProbeModel probe, string input, int? maxNewTokens)
    {
        ArgumentNullException.ThrowIfNull(probe);
        return Generate(probe, probe.Tokenizer.Encode(input), maxNewTokens);
    }

    /// <summary>Generates from the token ids <paramref name="prompt"/> (used as they are).</summary>
    public static IReadOnlyList<int> Generate(ProbeModel probe, IReadOnlyList<int> prompt, int? maxNewTokens)
    {
        ArgumentNullException.ThrowIfNull(probe);
        TokenIdGuard.Check(prompt, probe.Model, "the prompt");
        int[] generated = Generator.Generate(
            probe.Model, probe.Generation, [prompt], new GenerationOptions { MaxNewTokens = maxNewTokens }, CliContext.Token)[0];
        return probe.Model.IsEncoderDecoder ? [probe.DecoderStartTokenId, .. generated] : generated;
    }
}
