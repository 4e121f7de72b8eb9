using System.CommandLine;
using System.Globalization;
using InseqBridge.Serialization;
using InseqBridge.TorchSharp.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>forward</c>: runs one forward pass and saves the logits as a safetensors file holding one F32 tensor
/// <c>logits</c> of shape [positions, vocab]. Decoder-only models: logits over the tokenized input.
/// Encoder-decoders: the decoder's logits over <c>--decoder-input-ids</c> (default: the decoder start token).
/// </summary>
public static class ForwardCommand
{
    /// <summary>Name of the tensor in the saved file.</summary>
    public const string TensorName = "logits";

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        Option<string> input = CommonOptions.Input();
        var decoderIds = new Option<string?>("--decoder-input-ids")
        {
            Description = "Encoder-decoders: comma-separated decoder input ids (default: the decoder start token).",
            HelpName = "IDS",
        };
        var save = new Option<string>("--save") { Description = "Safetensors file to write.", Required = true, HelpName = "FILE" };
        Option<bool> overwrite = CommonOptions.Overwrite();
        var command = new Command("forward", "Run a forward pass and save the logits (probe).") { model, input, decoderIds, save, overwrite };
        command.SetAction(parseResult =>
        {
            string path = parseResult.GetValue(save)!;
            bool replace = parseResult.GetValue(overwrite);
            OutputTargets.Check([("--save", path)], replace);

            int[]? decoder = ParseIds(parseResult.GetValue(decoderIds));
            using ProbeModel probe = ProbeModel.Load(parseResult.GetValue(model)!);
            if (decoder is not null && !probe.Model.IsEncoderDecoder)
            {
                throw new CliUsageException("--decoder-input-ids applies to encoder-decoder models only.");
            }

            IReadOnlyList<int> ids = probe.Tokenizer.Encode(parseResult.GetValue(input)!);
            TokenIdGuard.Check(ids, probe.Model, "the tokenizer");
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

    private static int[]? ParseIds(string? text)
    {
        if (text is null)
        {
            return null;
        }

        string[] parts = text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries);
        var ids = new int[parts.Length];
        for (int i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
            {
                throw new CliUsageException($"--decoder-input-ids: '{parts[i]}' is not a token id (expected e.g. 2,45,7).");
            }
        }

        return ids.Length > 0 ? ids : throw new CliUsageException("--decoder-input-ids needs at least one id.");
    }
}
