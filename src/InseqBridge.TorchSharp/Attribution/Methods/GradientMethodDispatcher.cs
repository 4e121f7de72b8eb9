using InseqBridge.Attribution;
using InseqBridge.Errors;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>Runs one attribution step of the methods whose native code is in <see cref="NativeAttributionMethods"/>.</summary>
internal static class GradientMethodDispatcher
{
    /// <summary>Whether <paramref name="method"/> is handled here.</summary>
    public static bool Handles(AttributionMethod method) => NativeAttributionMethods.Has(method.Id);

    /// <summary>Attributions for each attributed input, shaped like it.</summary>
    public static Tensor[] Attribute(AttributionMethod method, GradientStepContext context) =>
        NativeAttributionMethods.TryGet(method.Id, out var attributor)
            ? attributor(method, context)
            : throw new InvalidRequestException($"Method '{method.Id}' is not implemented by the native backend.");
}
