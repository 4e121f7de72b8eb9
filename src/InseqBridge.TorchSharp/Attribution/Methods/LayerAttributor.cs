using InseqBridge.Attribution;
using InseqBridge.Errors;
using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using static TorchSharp.torch;

namespace InseqBridge.Native.Attribution.Methods;

/// <summary>
/// Captum's layer methods on the input embedding layer, where Inseq puts them (<c>model.get_input_embeddings()</c>):
/// attributions are w.r.t. the output of the token embedding module, and baselines are the embedding outputs of
/// the baseline ids. Where the module sits: GPT-2, Llama, Qwen2, T5 and Marian call the shared embedding module
/// and apply any scale afterwards (Marian multiplies by sqrt(d_model) after the hook point), so the layer output is
/// the unscaled embedding. BART's encoder owns a scaled-embedding module that only shares the weight; in the
/// reference the hook on <c>model.shared</c> never fires there ("Forward hook did not obtain any outputs"). This
/// backend attributes to the output of BART's encoder token-embedding module instead (scale included), which is the
/// layer the hook means to reach.
/// </summary>
internal static class LayerAttributor
{
    public static Tensor[] Attribute(GradientStepContext context, AttributionMethod method)
    {
        if (context.AttributeTarget)
        {
            throw new InvalidRequestException(
                $"{method.Id}: layer attribution methods do not support attribute_target=True (as in Inseq). Use the non-layer method instead.");
        }

        TransformerLanguageModel model = context.Model;
        double scale = model.EmbedScale;
        bool scaleAfterLayer = scale != 1.0 && model.Config is not BartConfig { IsMarian: false };

        Tensor Layer(Tensor ids, bool encoder) =>
            scaleAfterLayer ? TransformerOps.Embedding(ids, model.EmbeddingMatrix)
            : encoder ? model.EmbedEncoderTokens(ids) : model.EmbedDecoderTokens(ids);

        List<Tensor> activations = context.Ids.Select((ids, i) => Layer(ids, context.EncoderSide[i])).ToList();
        List<Tensor> Baselines() => context.BaselineIds.Select((ids, i) => Layer(ids, context.EncoderSide[i])).ToList();
        GradientStepContext.ForwardFunction forward = scaleAfterLayer
            ? (x, repeat, options) => context.Forward(x.Select(t => t.Times(scale)).ToList(), repeat, options)
            : context.Forward;
        GradientAttributor.ForwardFunction plain = (x, repeat) => forward(x, repeat, ForwardOptions.None);

        return method switch
        {
            LayerIntegratedGradients lig => GradientAttributor.IntegratedGradients(
                plain, activations, Baselines(), lig.Method, lig.Steps, lig.InternalBatchSize),
            LayerGradientXActivation => GradientAttributor.InputXGradient(plain, activations),
            LayerDeepLift => DeepLiftAttributor.Attribute(forward, activations, Baselines()),
            _ => throw new InvalidRequestException($"'{method.Id}' is not a layer method."),
        };
    }
}
