using System.CommandLine;
using System.Globalization;
using InseqBridge.Tokenizers;
using InseqBridge.Serialization;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>forward</c>: runs one forward pass and saves the logits as a safetensors file holding one F32 tensor
/// <c>logits</c> of shape [positions, vocab]. Decoder-only models: logits over the tokenized input.
/// Encoder-decoders: the decoder's logits over <c>--decoder-input-ids</c> (default: the decoder start token).
/// <c>--input-ids 1,2,3</c> replaces <c>--input</c>: the ids go in as they are (no tokenizer needed).
/// </summary>
public static class ForwardCommand
{
    /// <summary>Name of the tensor in the saved file.</summary>
    public const string TensorName = "logits";

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        Option<TokenizerKind?> tokenizer = CommonOptions.Tokenizer();
        Option<string> input = CommonOptions.Input();
        input.Required = false;
        Option<string?> inputIds = CommonOptions.InputIds();
        Option<ModelDType?> dtype = CommonOptions.DType();
        var decoderIds = new Option<string?>("--decoder-input-ids")
        {
            Description = "Encoder-decoders: comma-separated decoder input ids (default: the decoder start token).",
            HelpName = "IDS",
        };
        var save = new Option<string>("--save") { Description = "Safetensors file to write.", Required = true, HelpName = "FILE" };
        Option<bool> overwrite = CommonOptions.Overwrite();
        var command = new Command("forward", "Run a forward pass and save the logits (probe).") { model, input, inputIds, decoderIds, save, overwrite, dtype, tokenizer };
        command.SetAction(parseResult =>
        {
            string path = parseResult.GetValue(save)!;
            bool replace = parseResult.GetValue(overwrite);
            OutputTargets.Check([("--save", path)], replace);

            int[]? decoder = parseResult.GetValue(decoderIds) is string d ? CommonOptions.ParseIds(d, "--decoder-input-ids") : null;
            int[]? givenIds = InputIdsOrText(parseResult, input, inputIds);
            using ProbeModel probe = ProbeModel.Load(
                parseResult.GetValue(model)!, CommonOptions.ParseDType(parseResult.GetValue(dtype)), tokenizerRequired: givenIds is null,
                CommonOptions.TokenizerKindOf(parseResult.GetValue(tokenizer)));
            if (decoder is not null && !probe.Model.IsEncoderDecoder)
            {
                throw new CliUsageException("--decoder-input-ids applies to encoder-decoder models only.");
            }

            IReadOnlyList<int> ids = givenIds ?? probe.Tokenizer.Encode(parseResult.GetValue(input)!);
            TokenIdGuard.Check(ids, probe.Model, givenIds is null ? "the tokenizer" : "--input-ids");
            if (decoder is not null)
            {
                TokenIdGuard.Check(decoder, probe.Model, "--decoder-input-ids");
            }

            (float[] logits, long positions, long vocab) = Logits(probe, ids, decoder);
            byte[] blob = SafetensorsFormat.Write(
                [KeyValuePair.Create(TensorName, SafetensorsTensor.FromFloats(SafetensorsDType.F32, logits, positions, vocab))]);
            string? folder = Path.GetDirectoryName(Path.GetFullPath(path));
            if (!string.IsNullOrEmpty(folder))
            {
                Directory.CreateDirectory(folder);
            }

            using (var stream = new FileStream(path, replace ? FileMode.Create : FileMode.CreateNew, FileAccess.Write))
            {
                stream.Write(blob);
            }

            parseResult.InvocationConfiguration.Output.WriteLine(
                string.Create(CultureInfo.InvariantCulture, $"wrote {TerminalText.Escape(path)}: {TensorName} [{positions}, {vocab}]"));
            return ExitCodes.Success;
        });
        return command;
    }

    /// <summary>Computes the logits of one input: [positions, vocab], row-major.</summary>
    /// <param name="probe">The loaded model.</param>
    /// <param name="inputIds">Input ids (decoder-only) or encoder ids (encoder-decoder).</param>
    /// <param name="decoderIds">Encoder-decoders: decoder input ids (null: the decoder start token alone). Ignored otherwise.</param>
    public static (float[] Values, long Positions, long Vocab) Logits(ProbeModel probe, IReadOnlyList<int> inputIds, IReadOnlyList<int>? decoderIds)
    {
        ArgumentNullException.ThrowIfNull(probe);
        ArgumentNullException.ThrowIfNull(inputIds);
        if (inputIds.Count == 0)
        {
            throw new Errors.InvalidInputException("The input text produced no tokens.");
        }

        TransformerLanguageModel model = probe.Model;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor ids = torch.tensor(inputIds.Select(i => (long)i).ToArray(), [1, inputIds.Count], device: model.Device);
        Tensor logits;
        if (model.IsEncoderDecoder)
        {
            decoderIds ??= [probe.DecoderStartTokenId];
            Tensor decoder = torch.tensor(decoderIds.Select(i => (long)i).ToArray(), [1, decoderIds.Count], device: model.Device);
            EncoderOutput encoder = model.Encode(model.EmbedEncoderTokens(ids), null, ForwardOptions.None);
            logits = model.Decode(model.EmbedDecoderTokens(decoder), null, null, encoder, null, null, ForwardOptions.None).Logits[0];
        }
        else
        {
            logits = model.Decode(model.EmbedDecoderTokens(ids), null, null, null, null, null, ForwardOptions.None).Logits[0];
        }

        Tensor cpu = logits.to(ScalarType.Float32).cpu().contiguous();
        return (cpu.data<float>().ToArray(), cpu.shape[0], cpu.shape[1]);
    }

    /// <summary>The ids of <c>--input-ids</c>, or null when <c>--input</c> is given; exactly one of them is required.</summary>
    internal static int[]? InputIdsOrText(ParseResult parseResult, Option<string> input, Option<string?> inputIds)
    {
        string? text = parseResult.GetValue(input);
        string? ids = parseResult.GetValue(inputIds);
        return (text, ids) switch
        {
            (null, null) => throw new CliUsageException("Give the input as --input TEXT or as --input-ids 1,2,3."),
            (not null, not null) => throw new CliUsageException("Give either --input or --input-ids, not both."),
            (null, string list) => CommonOptions.ParseIds(list, "--input-ids"),
            _ => null,
        };
    }
}
