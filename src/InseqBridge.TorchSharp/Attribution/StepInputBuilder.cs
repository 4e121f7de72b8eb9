using InseqBridge.Attribution;
using InseqBridge.Errors;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// Builds the tensors of a step from the padded batch: the prefix and target of each active row, the sources, the
/// baselines, and the contrastive inputs aligned to the step.
/// </summary>
internal sealed class StepInputBuilder
{
    private readonly TransformerLanguageModel _model;
    private readonly long _padId;
    private readonly ContrastInputs? _contrast;
    private readonly IReadOnlyList<IReadOnlyList<AlignmentPair>>? _contrastPairs;

    /// <param name="model">The model (embeddings and device).</param>
    /// <param name="padId">Padding id of right-padded contrastive prefixes.</param>
    /// <param name="sources">The padded sources (encoder-decoders only).</param>
    /// <param name="targets">The padded targets.</param>
    /// <param name="contrast">The contrastive inputs, if any.</param>
    /// <param name="contrastPairs">Adjusted alignments per row when <paramref name="contrast"/> has contrast targets.</param>
    public StepInputBuilder(
        TransformerLanguageModel model, long padId, EncodedTexts? sources, EncodedTexts targets,
        ContrastInputs? contrast, IReadOnlyList<IReadOnlyList<AlignmentPair>>? contrastPairs)
    {
        _model = model;
        _padId = padId;
        Sources = sources;
        Targets = targets;
        _contrast = contrast;
        _contrastPairs = contrastPairs;
    }

    /// <summary>The padded sources (encoder-decoders only).</summary>
    public EncodedTexts? Sources { get; }

    /// <summary>The padded targets.</summary>
    public EncodedTexts Targets { get; }

    private bool EncoderDecoder => _model.IsEncoderDecoder;

    /// <summary>Every batch row.</summary>
    public int[] AllRows() => Enumerable.Range(0, Targets.Count).ToArray();

    /// <summary>The rows whose target has a token at <paramref name="step"/> (finished sequences left out).</summary>
    public int[] ActiveRows(int step) => Enumerable.Range(0, Targets.Count).Where(b => Targets.Mask[b][step] == 1).ToArray();

    /// <summary>The first <paramref name="width"/> columns of the given rows as an int64 tensor on the model's device.</summary>
    public Tensor Rows(long[][] data, IReadOnlyList<int> rows, int width) => EncodedTexts.Rows(data, rows, width, _model.Device);

    /// <summary>Concatenates <paramref name="repeat"/> copies of <paramref name="t"/> along the batch dimension.</summary>
    public static Tensor Tile(Tensor t, int repeat) => repeat == 1 ? t : torch.cat(Enumerable.Repeat(t, repeat).ToArray(), 0);

    /// <summary>The inputs of <paramref name="step"/> for <paramref name="rows"/>.</summary>
    public StepInputs For(int step, int[] rows)
    {
        Tensor targetIds = torch.tensor(rows.Select(b => Targets.Ids[b][step]).ToArray(), device: _model.Device);
        Tensor prefixIds = Rows(Targets.Ids, rows, step);
        Tensor prefixMask = Rows(Targets.Mask, rows, step);
        Tensor prefixEmbeds = _model.EmbedDecoderTokens(prefixIds);
        Tensor? sourceIds = null, sourceMask = null, sourceEmbeds = null;
        if (EncoderDecoder)
        {
            sourceIds = Rows(Sources!.Ids, rows, Sources.Width);
            sourceMask = Rows(Sources.Mask, rows, Sources.Width);
            sourceEmbeds = _model.EmbedEncoderTokens(sourceIds);
        }

        return new StepInputs(targetIds, prefixIds, prefixMask, prefixEmbeds, sourceIds, sourceMask, sourceEmbeds);
    }

    /// <summary>Baseline embeddings of the attributed inputs: the source (when <paramref name="withSource"/>), then the prefix.</summary>
    public List<Tensor> Baselines(int[] rows, int step, bool withSource, bool withTarget)
    {
        var baselines = new List<Tensor>();
        if (withSource)
        {
            baselines.Add(_model.EmbedEncoderTokens(Rows(Sources!.Baseline, rows, Sources.Width)));
        }

        if (withTarget)
        {
            baselines.Add(_model.EmbedDecoderTokens(Rows(Targets.Baseline, rows, step)));
        }

        return baselines;
    }

    /// <summary>The contrastive inputs of <paramref name="step"/> for <paramref name="rows"/>; null without contrastive inputs.</summary>
    public ContrastStep? Contrast(int step, int[] rows)
    {
        if (_contrast is null)
        {
            return null;
        }

        var targetIds = new long[rows.Length];
        var prefixes = new long[rows.Length][];
        bool prefixDiffers = false;
        for (int r = 0; r < rows.Length; r++)
        {
            int b = rows[r];
            long[] original = Targets.Ids[b];
            if (_contrast.TargetIds is long[][] contrastIds)
            {
                long[] ids = contrastIds[b];
                int index = ContrastAlignment.AlignedIndex(step, _contrastPairs![b]);
                index = index < 0 ? ids.Length - 1 : index;
                if (index <= 0)
                {
                    throw new InvalidRequestException(
                        $"Contrast target {_contrast.InputIndex[b]} aligns target position {step} to its first token, which leaves no prefix to predict it from.");
                }

                targetIds[r] = ids[index];
                prefixes[r] = ids[..index];
                prefixDiffers |= !prefixes[r].AsSpan().SequenceEqual(original.AsSpan(0, step));
            }
            else
            {
                targetIds[r] = original[step];
                prefixes[r] = original[..step];
            }
        }

        var (prefixIds, prefixMask, lastIndex) = prefixDiffers ? RightPadded(prefixes) : (null, null, null);
        Tensor? sourceIds = null, sourceMask = null;
        if (_contrast.Sources is EncodedTexts contrastSources
            && (contrastSources.Width != Sources!.Width || rows.Any(b => !contrastSources.Ids[b].AsSpan().SequenceEqual(Sources.Ids[b]))))
        {
            sourceIds = Rows(contrastSources.Ids, rows, contrastSources.Width);
            sourceMask = Rows(contrastSources.Mask, rows, contrastSources.Width);
        }

        return new ContrastStep(torch.tensor(targetIds, device: _model.Device), prefixIds, prefixMask, lastIndex, sourceIds, sourceMask);
    }

    /// <summary>
    /// Contrastive prefixes padded on the right, so that each row's positions are as if it ran alone; the logits are
    /// read at its last token (<c>LastIndex</c>).
    /// </summary>
    private (Tensor? Ids, Tensor? Mask, Tensor? LastIndex) RightPadded(long[][] prefixes)
    {
        int count = prefixes.Length;
        int width = prefixes.Max(p => p.Length);
        var ids = new long[count * width];
        var mask = new long[count * width];
        Array.Fill(ids, _padId);
        for (int r = 0; r < count; r++)
        {
            Array.Copy(prefixes[r], 0, ids, r * width, prefixes[r].Length);
            Array.Fill(mask, 1L, r * width, prefixes[r].Length);
        }

        return (
            torch.tensor(ids, [count, width], device: _model.Device),
            torch.tensor(mask, [count, width], device: _model.Device),
            torch.tensor(prefixes.Select(p => (long)p.Length - 1).ToArray(), device: _model.Device));
    }
}
