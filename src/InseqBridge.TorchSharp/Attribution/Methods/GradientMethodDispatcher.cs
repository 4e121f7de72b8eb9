using InseqBridge.Attribution;
using InseqBridge.Errors;
using static TorchSharp.torch;

namespace InseqBridge.TorchSharp.Attribution.Methods;

/// <summary>Runs one attribution step of the gradient-family methods beyond saliency, input x gradient and IG.</summary>
internal static class GradientMethodDispatcher
{
    /// <summary>Whether <paramref name="method"/> is handled here.</summary>
    public static bool Handles(AttributionMethod method) => method is DeepLift or GradientShap or LayerIntegratedGradients
        or LayerGradientXActivation or LayerDeepLift or SequentialIntegratedGradients or DiscretizedIntegratedGradients;

    /// <summary>Attributions for each attributed input, shaped like it.</summary>
    public static Tensor[] Attribute(AttributionMethod method, GradientStepContext context) => method switch
    {
        DeepLift => DeepLiftAttributor.Attribute(context.Forward, context.Inputs, context.Baselines()),
        GradientShap shap => GradientShapAttributor.Attribute(context, shap),
        LayerIntegratedGradients or LayerGradientXActivation or LayerDeepLift => LayerAttributor.Attribute(context, method),
        SequentialIntegratedGradients sig => SequentialIntegratedGradientsAttributor.Attribute(context, sig),
        DiscretizedIntegratedGradients dig => DiscretizedIntegratedGradientsAttributor.Attribute(context, dig),
        _ => throw new InvalidRequestException($"Method '{method.Id}' is not implemented by the native backend."),
    };
}
