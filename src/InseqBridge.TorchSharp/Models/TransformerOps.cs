using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace InseqBridge.Native.Models;

/// <summary>Building blocks shared by the architectures, written to follow transformers' arithmetic order.</summary>
internal static class TransformerOps
{
    /// <summary>Most negative float32: the value transformers uses for masked attention scores.</summary>
    public const float MaskValue = float.MinValue;

    /// <summary>Rows of <paramref name="matrix"/> for each id: [..ids] → [..ids, hidden].</summary>
    public static Tensor Embedding(Tensor ids, Tensor matrix)
    {
        using Tensor flat = ids.reshape(-1);
        using Tensor rows = matrix.index_select(0, flat);
        long[] shape = [.. ids.shape, matrix.shape[1]];
        return rows.view(shape);
    }

    public static Tensor Linear(Tensor x, Tensor weight, Tensor? bias) => F.linear(x, weight, bias);

    /// <summary>The hidden states the language-model head reads: all positions, one per row with
    /// <see cref="ForwardOptions.HeadPositions"/>, or the last one with <see cref="ForwardOptions.LastPositionOnly"/>.</summary>
    public static Tensor HeadInput(Tensor hidden, ForwardOptions options)
    {
        if (options.HeadPositions is Tensor positions)
        {
            using Tensor range = SafeScalars.Arange(0, hidden.shape[0], hidden.device);
            using Tensor rows = range.unsqueeze(1);
            return hidden.index([TensorIndex.Tensor(rows), TensorIndex.Tensor(positions)]);
        }

        return options.LastPositionOnly ? hidden.narrow(1, hidden.shape[1] - 1, 1) : hidden;
    }

    /// <summary>GPT-2's Conv1D: weight stored [in, out].</summary>
    public static Tensor Conv1D(Tensor x, Tensor weight, Tensor bias)
    {
        long[] shape = x.shape;
        using Tensor flat = x.reshape(-1, shape[^1]);
        using Tensor y = torch.addmm(bias, flat, weight, 1, 1);
        shape[^1] = weight.shape[1];
        return y.view(shape);
    }

    public static Tensor LayerNorm(Tensor x, Tensor weight, Tensor bias, double eps) =>
        F.layer_norm(x, [x.shape[^1]], weight, bias, eps);

    /// <summary>RMSNorm as Llama and T5 compute it: in float32 (reduced-precision inputs are upcast, the result cast
    /// back), no mean subtraction, no bias.</summary>
    public static Tensor RmsNorm(Tensor x, Tensor weight, double eps)
    {
        using var scope = torch.NewDisposeScope();
        Tensor x32 = x.dtype == ScalarType.Float32 ? x : x.to(ScalarType.Float32);
        Tensor variance = x32.Power(2).mean([-1], keepdim: true);
        Tensor normed = x32 * torch.rsqrt(variance.Plus(eps));
        if (x.dtype != ScalarType.Float32)
        {
            normed = normed.to(x.dtype);
        }

        return (weight * normed).MoveToOuterDisposeScope();
    }

    /// <summary>The activation, through the forward's activation hook when it has one.</summary>
    public static Tensor Activation(string name, Tensor x, ForwardOptions options) =>
        options.ActivationHook is { } hook ? hook(name, x, t => Activation(name, t)) : Activation(name, x);

    public static Tensor Activation(string name, Tensor x)
    {
        switch (name)
        {
            case "gelu":
                return F.gelu(x);
            case "gelu_pytorch_tanh":
                // transformers' PytorchGELUTanh: torch's own tanh approximation (Gemma's default).
                return x.gelu(TorchSharp.Modules.GELU.Approximate.tanh);
            case "gelu_new":
            case "gelu_fast":
                {
                    // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), in transformers' operation order.
                    using var scope = torch.NewDisposeScope();
                    Tensor inner = x.Plus(x.Power(3.0).Times(0.044715)).Times(Math.Sqrt(2.0 / Math.PI));
                    return (x.Times(0.5) * torch.tanh(inner).Plus(1.0)).MoveToOuterDisposeScope();
                }

            case "relu":
                return F.relu(x);
            case "silu":
            case "swish":
                return F.silu(x);
            case "tanh":
                return torch.tanh(x);
            default:
                throw new Errors.UnsupportedModelException($"Activation function '{name}' is not implemented by the native backend.");
        }
    }

    /// <summary>[batch, seq, heads*dim] → [batch, heads, seq, dim].</summary>
    public static Tensor SplitHeads(Tensor x, int heads, int headDim)
    {
        using Tensor v = x.view(x.shape[0], x.shape[1], heads, headDim);
        return v.transpose(1, 2);
    }

    /// <summary>[batch, heads, seq, dim] → [batch, seq, heads*dim].</summary>
    public static Tensor MergeHeads(Tensor x)
    {
        using Tensor t = x.transpose(1, 2);
        return t.contiguous().view(x.shape[0], x.shape[2], x.shape[1] * x.shape[3]);
    }

    /// <summary>
    /// Additive attention mask [batch, 1, queries, keys]: 0 where allowed, <see cref="MaskValue"/> where a key is
    /// padding or (when <paramref name="causal"/>) in the future. The first keys - queries positions precede
    /// the queries. With <paramref name="slidingWindow"/> W, a query at cache position i also cannot see keys at
    /// i - W or earlier (transformers' sliding-window causal mask).
    /// </summary>
    public static Tensor AdditiveMask(Tensor? keyPaddingMask, long batch, long queries, long keys, bool causal, Device device, int? slidingWindow = null)
    {
        using var scope = torch.NewDisposeScope();
        Tensor allowed = torch.ones(batch, 1, queries, keys, dtype: ScalarType.Bool, device: device);
        if (causal)
        {
            long past = keys - queries;
            Tensor q = SafeScalars.Arange(past, keys, device).view(queries, 1);
            Tensor k = SafeScalars.Arange(0, keys, device).view(1, keys);
            allowed = allowed & (k <= q).view(1, 1, queries, keys);
            if (slidingWindow is int window)
            {
                using Scalar w = window.ToScalar();
                allowed = allowed & (k > q - w).view(1, 1, queries, keys);
            }
        }

        if (keyPaddingMask is not null)
        {
            allowed = allowed & keyPaddingMask.to(ScalarType.Bool).view(batch, 1, 1, keys);
        }

        Tensor mask = torch.zeros(batch, 1, queries, keys, dtype: ScalarType.Float32, device: device)
            .masked_fill(allowed.logical_not(), SafeScalars.MostNegativeFloat);
        return mask.MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Training-mode dropout of rate <paramref name="p"/> when <paramref name="options"/> carries a dropout generator
    /// (elements zeroed with probability p, survivors scaled by 1 / (1 - p), as torch.nn.functional.dropout);
    /// otherwise, or when p is 0, <paramref name="x"/> itself is returned (no operation, so eval mode is unchanged).
    /// </summary>
    public static Tensor Dropout(Tensor x, double p, ForwardOptions options)
    {
        if (options.Dropout is not { } generator || p == 0.0)
        {
            return x;
        }

        if (p is < 0.0 or > 1.0 || double.IsNaN(p))
        {
            throw new Errors.InvalidRequestException($"Dropout rate must be in [0, 1] (got {p}).");
        }

        using var scope = torch.NewDisposeScope();
        if (p == 1.0)
        {
            return torch.zeros_like(x).MoveToOuterDisposeScope();
        }

        Tensor keep = torch.empty(x.shape, ScalarType.Float32).bernoulli_(1.0 - p, generator).to(x.dtype).to(x.device);
        return (x * keep).Times(1.0 / (1.0 - p)).MoveToOuterDisposeScope();
    }

    /// <summary>
    /// LayerDrop: whether to skip a whole layer, drawn with probability <paramref name="p"/> from the dropout
    /// generator (never in eval mode or when p is 0).
    /// </summary>
    public static bool DropLayer(double p, ForwardOptions options)
    {
        if (options.Dropout is not { } generator || p <= 0.0)
        {
            return false;
        }

        using Tensor draw = torch.empty(1, ScalarType.Float32).uniform_(0.0, 1.0, generator);
        return draw.item<float>() < p;
    }

    /// <summary>Repeats key/value heads for grouped-query attention: [b, kvHeads, s, d] → [b, kvHeads*rep, s, d].</summary>
    public static Tensor RepeatKv(Tensor x, int repeats)
    {
        if (repeats == 1)
        {
            return x.alias();
        }

        long b = x.shape[0], h = x.shape[1], s = x.shape[2], d = x.shape[3];
        using Tensor e = x.unsqueeze(2).expand(b, h, repeats, s, d);
        return e.reshape(b, h * repeats, s, d);
    }

    /// <summary>
    /// Softmax attention given raw scores and values; returns the context and the probabilities (before dropout).
    /// With training-mode dropout in <paramref name="options"/>, <paramref name="dropout"/> is applied to the
    /// probabilities that weight the values.
    /// </summary>
    public static (Tensor Context, Tensor Probabilities) Attend(
        Tensor scores, Tensor? additiveMask, Tensor values, double dropout = 0.0, ForwardOptions? options = null)
    {
        using var scope = torch.NewDisposeScope();
        Tensor s = additiveMask is null ? scores : scores.Plus(additiveMask);
        Tensor p = s.softmax(-1, ScalarType.Float32);
        Tensor weights = values.dtype == ScalarType.Float32 ? p : p.to(values.dtype);
        Tensor context = torch.matmul(options is null ? weights : Dropout(weights, dropout, options), values);
        return (context.MoveToOuterDisposeScope(), p.MoveToOuterDisposeScope());
    }
}
