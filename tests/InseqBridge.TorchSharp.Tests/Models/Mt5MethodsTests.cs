using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Models;
using InseqBridge.Native.Tests.Attribution;
using TorchSharp;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Models;

/// <summary>
/// MT5 with the gradient and perturbation methods, which the reference stack cannot run (transformers 4.39's
/// T5Tokenizer raises IndexError decoding the empty target prefix that Inseq 0.6 builds; those manifest cases are
/// recorded failures). Here they must simply work: same tokens as the reference's own MT5 attention case of the same
/// call, the documented shapes, finite values, and probability step scores equal to the softmax of an independent
/// teacher-forced forward (whose logits LogitsParityTests checks against transformers).
/// </summary>
public class Mt5MethodsTests
{
    private static readonly string[] Sources = ["Hello world", "The cursor moves to the line."];
    private static readonly string[] Targets = ["Bonjour le monde", "Le curseur se d\u00e9place sur la ligne."];

    [Theory]
    [InlineData("saliency")]
    [InlineData("input_x_gradient")]
    [InlineData("integrated_gradients")]
    [InlineData("occlusion")]
    public void Method_runs_on_mt5_with_forced_targets(string method)
    {
        var model = AttributionParityTests.Model("mt5");
        var args = method == "integrated_gradients" ? new Dictionary<string, string> { ["n_steps"] = "10" } : null;
        FeatureAttributionOutput output = model.Attribute(new AttributionRequest(Sources)
        {
            GeneratedTexts = Targets,
            Method = AttributionMethod.FromId(method, args),
            StepScores = [StepFunction.FromId("probability")],
        });

        // The reference's attention case of the same inputs fixes the tokens and positions.
        FeatureAttributionOutput reference = InseqBridge.Serialization.InseqJson.Load(
            Path.Combine(Fixtures.ParityRealDir, "attributions", "mt5__attention__forced.json"));
        Assert.Equal(reference.SequenceAttributions.Count, output.SequenceAttributions.Count);
        for (int i = 0; i < output.SequenceAttributions.Count; i++)
        {
            FeatureAttributionSequenceOutput actual = output.SequenceAttributions[i], expected = reference.SequenceAttributions[i];
            Assert.Equal(expected.Source.Select(t => (t.Token, t.Id)), actual.Source.Select(t => (t.Token, t.Id)));
            Assert.Equal(expected.Target.Select(t => (t.Token, t.Id)), actual.Target.Select(t => (t.Token, t.Id)));
            Assert.Equal(expected.AttrPosStart, actual.AttrPosStart);
            Assert.Equal(expected.AttrPosEnd, actual.AttrPosEnd);

            int steps = actual.AttrPosEnd - actual.AttrPosStart;
            NdArray source = actual.SourceAttributions!;
            Assert.Equal(actual.Source.Count, source.Shape[0]);
            Assert.Equal(steps, source.Shape[1]);
            if (method != "occlusion")
            {
                Assert.Equal([actual.Source.Count, steps, 32], source.Shape);
            }

            Assert.All(source.ToArray(), v => Assert.True(float.IsFinite(v), $"{method}: non-finite attribution {v}"));
            Assert.Contains(source.ToArray(), v => v != 0);
            AssertProbabilities(actual);
        }
    }

    /// <summary>probability[step] = softmax(logits of the prefix)[next target token], from a direct forward.</summary>
    private static void AssertProbabilities(FeatureAttributionSequenceOutput sequence)
    {
        TransformerLanguageModel model = Fixtures.Model("mt5");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        Tensor sourceIds = torch.tensor(sequence.Source.Select(t => (long)t.Id).ToArray()).unsqueeze(0);
        long[] target = sequence.Target.Select(t => (long)t.Id).ToArray();
        Tensor prefix = torch.tensor(target[..^1]).unsqueeze(0);
        EncoderOutput encoded = model.Encode(model.EmbedEncoderTokens(sourceIds), null, ForwardOptions.None);
        Tensor probabilities = model.Decode(model.EmbedDecoderTokens(prefix), null, null, encoded, null, null, ForwardOptions.None)
            .Logits[0].softmax(-1);
        float[] actual = sequence.StepScores["probability"].ToArray();
        Assert.Equal(sequence.AttrPosEnd - sequence.AttrPosStart, actual.Length);
        for (int k = 0; k < actual.Length; k++)
        {
            int position = sequence.AttrPosStart + k;
            double expected = probabilities[position - 1, target[position]].item<float>();
            Assert.True(Math.Abs(actual[k] - expected) <= (1e-5 * expected) + 1e-9, $"step {k}: probability {actual[k]:E6} vs forward {expected:E6}");
        }
    }
}
