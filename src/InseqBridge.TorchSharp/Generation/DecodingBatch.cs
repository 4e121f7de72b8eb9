using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Generation;

/// <summary>
/// The rows being decoded, with their key/value cache: prompts padded as the tokenizers pad them for Inseq (left for
/// decoder-only models, right for encoder sources), the encoder run once, then one cached decoder step per token.
/// Beam search reorders the rows (<see cref="Advance"/> with source rows). Tensors live in the caller's dispose
/// scope; the cache is disposed with this object.
/// </summary>
internal sealed class DecodingBatch : IDisposable
{
    private readonly TransformerLanguageModel _model;
    private readonly KvCache _cache = new();
    private readonly EncoderOutput? _encoder;
    private Tensor? _encoderMask;
    private Tensor _stepInput;
    private Tensor? _decoderMask;

    private DecodingBatch(TransformerLanguageModel model, List<long>[] sequences, int padId, EncoderOutput? encoder, Tensor? encoderMask, Tensor stepInput, Tensor? decoderMask)
    {
        _model = model;
        Sequences = sequences;
        PadId = padId;
        _encoder = encoder;
        _encoderMask = encoderMask;
        _stepInput = stepInput;
        _decoderMask = decoderMask;
    }

    /// <summary>Every row's tokens so far: the padded prompt (decoder-only) or the decoder start token, then the
    /// generated ones.</summary>
    public List<long>[] Sequences { get; set; }

    /// <summary>The id that pads prompts and finished rows.</summary>
    public int PadId { get; }

    /// <summary>Pads the prompts, runs the encoder (encoder-decoder models) and prepares the first decoder step.</summary>
    /// <param name="model">The model.</param>
    /// <param name="config">The generation configuration.</param>
    /// <param name="prompts">Prompt (decoder-only) or source (encoder-decoder) ids per row.</param>
    /// <param name="decoderPrefixes">Encoder-decoders: the decoder ids each row starts from instead of the decoder
    /// start token (transformers' <c>decoder_input_ids</c>), all of one length; null for the start token.</param>
    public static DecodingBatch Start(
        TransformerLanguageModel model, GenerationConfig config, IReadOnlyList<IReadOnlyList<int>> prompts, IReadOnlyList<IReadOnlyList<int>>? decoderPrefixes = null)
    {
        int batch = prompts.Count;
        int maxPrompt = prompts.Max(p => p.Count);
        int pad = config.PadTokenId ?? (config.EosTokenIds.Count > 0 ? config.EosTokenIds[0] : 0);
        Device device = model.Device;
        var inputIds = new long[batch * maxPrompt];
        var mask = new long[batch * maxPrompt];
        for (int b = 0; b < batch; b++)
        {
            int offset = model.IsEncoderDecoder ? 0 : maxPrompt - prompts[b].Count;
            Array.Fill(inputIds, pad, b * maxPrompt, maxPrompt);
            for (int i = 0; i < prompts[b].Count; i++)
            {
                inputIds[(b * maxPrompt) + offset + i] = prompts[b][i];
                mask[(b * maxPrompt) + offset + i] = 1;
            }
        }

        Tensor ids = torch.tensor(inputIds, [batch, maxPrompt], device: device);
        Tensor attention = torch.tensor(mask, [batch, maxPrompt], device: device);
        var sequences = new List<long>[batch];
        if (model.IsEncoderDecoder)
        {
            int start = config.DecoderStartTokenId ?? config.BosTokenId
                ?? throw new CheckpointException("The checkpoint defines no decoder_start_token_id (config.json or generation_config.json).");
            EncoderOutput encoder = model.Encode(model.EmbedEncoderTokens(ids), attention, ForwardOptions.None);
            if (decoderPrefixes is not null)
            {
                int width = decoderPrefixes[0].Count;
                var prefixIds = new long[batch * width];
                for (int b = 0; b < batch; b++)
                {
                    sequences[b] = [.. decoderPrefixes[b].Select(id => (long)id)];
                    sequences[b].CopyTo(prefixIds, b * width);
                }

                return new DecodingBatch(model, sequences, pad, encoder, attention, torch.tensor(prefixIds, [batch, width], device: device), null);
            }

            for (int b = 0; b < batch; b++)
            {
                sequences[b] = [start];
            }

            using Scalar startId = start.ToScalar();
            return new DecodingBatch(model, sequences, pad, encoder, attention, torch.full(batch, 1, startId, dtype: ScalarType.Int64, device: device), null);
        }

        for (int b = 0; b < batch; b++)
        {
            sequences[b] = [.. inputIds.AsSpan(b * maxPrompt, maxPrompt).ToArray()];
        }

        return new DecodingBatch(model, sequences, pad, null, null, ids, attention);
    }

    /// <summary>Runs the decoder on the pending tokens and returns the float32 logits of the last position,
    /// [rows, vocabulary] (in the caller's dispose scope).</summary>
    public Tensor NextLogits()
    {
        Tensor? positions = null;
        if (!_model.IsEncoderDecoder)
        {
            // Positions from the attention mask, as transformers' prepare_inputs_for_generation computes them.
            Tensor cum = _decoderMask!.cumsum(1).Minus(1);
            cum = cum.FillWhere(_decoderMask.eq(SafeScalars.Zero), 1);
            positions = cum.narrow(1, cum.shape[1] - _stepInput.shape[1], _stepInput.shape[1]);
        }

        Tensor embeds = _model.EmbedDecoderTokens(_stepInput);
        DecoderOutput output = _model.Decode(embeds, _decoderMask, positions, _encoder, _encoderMask, _cache, ForwardOptions.None);
        return output.Logits.select(1, -1).to(ScalarType.Float32);
    }

    /// <summary>Feeds <paramref name="next"/> as the next tokens. With <paramref name="rows"/>, row i continues the
    /// state of row <c>rows[i]</c> (beam search); the caller has already extended <see cref="Sequences"/>.</summary>
    public void Advance(long[] next, long[]? rows)
    {
        Device device = _model.Device;
        if (rows is not null)
        {
            using Tensor index = torch.tensor(rows, device: device);
            _cache.SelectRows(index);
            if (_decoderMask is not null)
            {
                _decoderMask = _decoderMask.index_select(0, index).MoveToOuterDisposeScope();
            }
        }

        _stepInput = torch.tensor(next, [next.Length, 1], device: device).MoveToOuterDisposeScope();
        if (_decoderMask is not null)
        {
            _decoderMask = torch.cat([_decoderMask, torch.ones(next.Length, 1, dtype: ScalarType.Int64, device: device)], 1).MoveToOuterDisposeScope();
        }
    }

    /// <inheritdoc />
    public void Dispose() => _cache.Dispose();
}
