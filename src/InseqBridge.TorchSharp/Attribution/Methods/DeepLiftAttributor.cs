using InseqBridge.Native.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// DeepLIFT (rescale rule) as Captum computes it: inputs and baselines run as one batch [inputs; baselines] with
/// the non-attributed inputs repeated, the summed outputs are differentiated w.r.t. the inputs, and the gradient of
/// each supported non-linearity is replaced by the ratio of its output and input differences between the two
/// halves (its plain gradient where the input difference is below 1e-10). Attributions are
/// (input - baseline) x multipliers.
/// </summary>
internal static class DeepLiftAttributor
{
    /// <summary>Captum's threshold below which an input difference counts as zero.</summary>
    public const double Epsilon = 1e-10;

    /// <summary>Activations that transformers builds as a module type in Captum's supported non-linearities
    /// (nn.ReLU, nn.Tanh, nn.Sigmoid, nn.LeakyReLU). GELU/SiLU variants are transformers' own classes (or nn.SiLU)
    /// and attention softmax is functional: Captum leaves their gradients alone.</summary>
    private static readonly HashSet<string> RescaledActivations = ["relu", "tanh", "sigmoid", "leaky_relu"];

    /// <summary>DeepLIFT of <paramref name="forward"/> at <paramref name="inputs"/> from <paramref name="baselines"/>.</summary>
    public static Tensor[] Attribute(GradientStepContext.ForwardFunction forward, IReadOnlyList<Tensor> inputs, IReadOnlyList<Tensor> baselines)
    {
        Tensor[] leaves = inputs.Select(i => i.detach().requires_grad_(true)).ToArray();
        Tensor[] joined = leaves.Select((x, i) => torch.cat([x, baselines[i].detach()], 0)).ToArray();
        Tensor output = forward(joined, 2, new ForwardOptions { ActivationHook = Rescale });
        IList<Tensor> gradients = torch.autograd.grad([output.sum()], leaves);
        return gradients.Select((g, i) => (inputs[i] - baselines[i]) * g).ToArray();
    }

    /// <summary>Whether DeepLIFT overrides the gradient of an activation (as Captum does for its module).</summary>
    public static bool IsRescaled(string activation) => RescaledActivations.Contains(activation);

    private static Tensor Rescale(string activation, Tensor input, Func<Tensor, Tensor> apply)
    {
        Tensor output = apply(input);
        if (!IsRescaled(activation))
        {
            return output;
        }

        Tensor multiplier;
        using (torch.no_grad())
        {
            Tensor x = input.detach(), y = output.detach();
            long half = x.shape[0] / 2;
            Tensor deltaIn = x.narrow(0, 0, half) - x.narrow(0, half, half);
            Tensor deltaOut = y.narrow(0, 0, half) - y.narrow(0, half, half);
            deltaIn = torch.cat([deltaIn, deltaIn], 0);
            deltaOut = torch.cat([deltaOut, deltaOut], 0);
            Tensor local;
            using (torch.enable_grad())
            {
                Tensor leaf = x.clone().requires_grad_(true);
                local = torch.autograd.grad([apply(leaf).sum()], [leaf])[0];
            }

            using Scalar epsilon = Epsilon.ToScalar();
            multiplier = torch.where(deltaIn.abs().lt(epsilon), local, deltaOut / deltaIn);
        }

        // Same value as the activation, gradient = multiplier.
        return output.detach().Plus(multiplier * (input - input.detach()));
    }
}
