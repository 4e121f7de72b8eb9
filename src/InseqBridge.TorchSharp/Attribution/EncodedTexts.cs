using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution;

/// <summary>
/// A batch of tokenized texts padded to one width, as Inseq's <c>encode</c> returns it: ids, attention mask and
/// baseline ids (UNK everywhere, EOS kept unless include_eos_baseline), plus the token strings.
/// </summary>
internal sealed class EncodedTexts
{
    public required long[][] Ids { get; init; }

    public required long[][] Mask { get; init; }

    public required long[][] Baseline { get; init; }

    public required string[][] Tokens { get; init; }

    public int Width => Ids.Length == 0 ? 0 : Ids[0].Length;

    public int Count => Ids.Length;

    /// <summary>The first <paramref name="width"/> columns of the given rows of <paramref name="data"/> (ids, mask or baseline) as an int64 tensor [rows, width].</summary>
    public static Tensor Rows(long[][] data, IReadOnlyList<int> rows, int width, Device device)
    {
        var flat = new long[rows.Count * width];
        for (int r = 0; r < rows.Count; r++)
        {
            Array.Copy(data[rows[r]], 0, flat, r * width, width);
        }

        return torch.tensor(flat, [rows.Count, width], device: device);
    }

    /// <summary>Pads per-text ids to one width (left or right) and builds baselines.</summary>
    public static EncodedTexts Pad(
        IReadOnlyList<IReadOnlyList<int>> texts, bool padLeft, int padId, int unkId, int? eosId, bool includeEosBaseline,
        int? prependId, Func<int, string> tokenOf)
    {
        int width = texts.Count == 0 ? 0 : texts.Max(t => t.Count);
        int extra = prependId is null ? 0 : 1;
        var ids = new long[texts.Count][];
        var mask = new long[texts.Count][];
        var baseline = new long[texts.Count][];
        var tokens = new string[texts.Count][];
        for (int b = 0; b < texts.Count; b++)
        {
            ids[b] = new long[width + extra];
            mask[b] = new long[width + extra];
            baseline[b] = new long[width + extra];
            int offset = padLeft ? width - texts[b].Count : 0;
            for (int i = 0; i < width; i++)
            {
                ids[b][extra + i] = padId;
            }

            for (int i = 0; i < texts[b].Count; i++)
            {
                ids[b][extra + offset + i] = texts[b][i];
                mask[b][extra + offset + i] = 1;
            }

            for (int i = 0; i < width; i++)
            {
                long id = ids[b][extra + i];
                baseline[b][extra + i] = !includeEosBaseline && eosId is int eos && id == eos ? eos : unkId;
            }

            if (prependId is int start)
            {
                ids[b][0] = start;
                mask[b][0] = 1;
                baseline[b][0] = start;
            }

            tokens[b] = ids[b].Select(id => tokenOf((int)id)).ToArray();
        }

        return new EncodedTexts { Ids = ids, Mask = mask, Baseline = baseline, Tokens = tokens };
    }
}
