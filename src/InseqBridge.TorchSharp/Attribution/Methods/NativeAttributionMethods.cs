using System.Collections.Concurrent;
using InseqBridge.Attribution;
using InseqBridge.Errors;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>A user method's native code: attributions for each of <see cref="NativeMethodContext.Inputs"/>, shaped like it.</summary>
/// <param name="method">The method record (built by its descriptor's <c>Create</c>).</param>
/// <param name="context">The step.</param>
public delegate Tensor[] NativeAttributor(AttributionMethod method, NativeMethodContext context);

/// <summary>
/// The native code of each gradient-family method, attached to the method's id in <see cref="AttributionMethodRegistry"/>.
/// <see cref="GradientMethodDispatcher"/> runs what is registered here. Occlusion, LIME and ReAGent keep per-call state
/// (random streams, pad and UNK ids) and run from <see cref="AttributionRun"/>; attention and value zeroing are
/// final-step methods with their own pass.
/// </summary>
public static class NativeAttributionMethods
{
    private static readonly ConcurrentDictionary<string, Func<AttributionMethod, GradientStepContext, Tensor[]>> Attributors = new(
        new Dictionary<string, Func<AttributionMethod, GradientStepContext, Tensor[]>>
        {
            ["saliency"] = (_, c) => GradientAttributor.Saliency(c.Plain, c.Inputs),
            ["input_x_gradient"] = (_, c) => GradientAttributor.InputXGradient(c.Plain, c.Inputs),
            ["integrated_gradients"] = (m, c) => m is IntegratedGradients ig
                ? GradientAttributor.IntegratedGradients(c.Plain, c.Inputs, c.Baselines(), ig.Method, ig.Steps, ig.InternalBatchSize, c.Cancellation)
                : throw WrongRecord(m),
            ["deeplift"] = (_, c) => DeepLiftAttributor.Attribute(c.Forward, c.Inputs, c.Baselines()),
            ["gradient_shap"] = (m, c) => m is GradientShap shap ? GradientShapAttributor.Attribute(c, shap) : throw WrongRecord(m),
            ["layer_integrated_gradients"] = (m, c) => LayerAttributor.Attribute(c, m),
            ["layer_gradient_x_activation"] = (m, c) => LayerAttributor.Attribute(c, m),
            ["layer_deeplift"] = (m, c) => LayerAttributor.Attribute(c, m),
            ["sequential_integrated_gradients"] = (m, c) => m is SequentialIntegratedGradients sig
                ? SequentialIntegratedGradientsAttributor.Attribute(c, sig)
                : throw WrongRecord(m),
            ["discretized_integrated_gradients"] = (m, c) => m is DiscretizedIntegratedGradients dig
                ? DiscretizedIntegratedGradientsAttributor.Attribute(c, dig)
                : throw WrongRecord(m),
        },
        StringComparer.Ordinal);

    /// <summary>
    /// Attaches native code to a method id registered in <see cref="AttributionMethodRegistry"/> (register the
    /// descriptor first). The attributed function, step scores, batching and output assembly are the backend's; the
    /// code only turns the step's inputs into attributions.
    /// </summary>
    /// <param name="id">The method id.</param>
    /// <param name="attributor">The code.</param>
    /// <param name="overwrite">Replace code attached to a user method before.</param>
    /// <exception cref="InvalidRequestException">The id is not in the registry, is built-in, or already has code and
    /// <paramref name="overwrite"/> is false.</exception>
    public static void Register(string id, NativeAttributor attributor, bool overwrite = false)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(id);
        ArgumentNullException.ThrowIfNull(attributor);
        if (AttributionMethodRegistry.IsBuiltIn(id))
        {
            throw new InvalidRequestException($"'{id}' is a built-in attribution method id; choose another id.");
        }

        if (!AttributionMethodRegistry.TryGet(id, out _))
        {
            throw new InvalidRequestException($"Register the descriptor of '{id}' with AttributionMethodRegistry.Register before attaching its native code.");
        }

        Func<AttributionMethod, GradientStepContext, Tensor[]> run = (m, c) => attributor(m, new NativeMethodContext(c));
        if (overwrite)
        {
            Attributors[id] = run;
        }
        else if (!Attributors.TryAdd(id, run))
        {
            throw new InvalidRequestException($"Native code for '{id}' is already registered; pass overwrite: true to replace it.");
        }
    }

    /// <summary>Detaches the native code of a user method (built-in methods keep theirs).</summary>
    /// <returns>Whether code was removed.</returns>
    public static bool Unregister(string id) => !AttributionMethodRegistry.IsBuiltIn(id) && Attributors.TryRemove(id, out _);

    /// <summary>Whether native code is attached to <paramref name="id"/>.</summary>
    public static bool Has(string id) => Attributors.ContainsKey(id);

    /// <summary>The code attached to <paramref name="id"/>, if any.</summary>
    internal static bool TryGet(string id, out Func<AttributionMethod, GradientStepContext, Tensor[]> attributor) =>
        Attributors.TryGetValue(id, out attributor!);

    private static InvalidRequestException WrongRecord(AttributionMethod method) =>
        new($"Method '{method.Id}' was built as {method.GetType().Name}; build it with AttributionMethod.FromId.");
}
