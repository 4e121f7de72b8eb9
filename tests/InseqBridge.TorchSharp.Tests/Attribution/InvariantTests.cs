using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Serialization;

namespace InseqBridge.Native.Tests.Attribution;

/// <summary>Properties that hold whatever the reference says.</summary>
public class InvariantTests
{
    [Fact]
    public void Batched_equals_one_by_one_for_encoder_decoder()
    {
        var model = AttributionParityTests.Model("marian");
        string[] inputs = ["Hello world", "The cursor moves to the line."];
        string[] outputs = ["Bonjour le monde", "Le curseur se d\u00e9place sur la ligne."];
        var method = new IntegratedGradients { Steps = 8 };
        FeatureAttributionOutput batched = model.Attribute(new AttributionRequest(inputs) { GeneratedTexts = outputs, Method = method, StepScores = [new Probability()] });
        for (int i = 0; i < inputs.Length; i++)
        {
            FeatureAttributionOutput single = model.Attribute(new AttributionRequest([inputs[i]]) { GeneratedTexts = [outputs[i]], Method = method, StepScores = [new Probability()] });
            Assert.True(single.SequenceAttributions[0].SourceAttributions!.AllClose(batched.SequenceAttributions[i].SourceAttributions!, rtol: 1e-4, atol: 1e-9));
            Assert.True(single.SequenceAttributions[0].StepScores["probability"].AllClose(batched.SequenceAttributions[i].StepScores["probability"], rtol: 1e-5, atol: 1e-9));
        }
    }

    [Fact]
    public void Integrated_gradients_is_complete_on_a_real_model()
    {
        // Sum of IG attributions ≈ p(target | input) - p(target | baseline) for the first step (Gauss-Legendre, 64 steps).
        var model = AttributionParityTests.Model("gpt2");
        var request = new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world,"], Method = new IntegratedGradients { Steps = 64 }, StepScores = [new Probability()] };
        FeatureAttributionOutput ig = model.Attribute(request);
        float sum = 0;
        var attributions = ig.SequenceAttributions[0].TargetAttributions!;
        foreach (float v in attributions.Span)
        {
            if (!float.IsNaN(v))
            {
                sum += v;
            }
        }

        FeatureAttributionOutput baseline = model.Attribute(new AttributionRequest(["<|endoftext|><|endoftext|>"]) { GeneratedTexts = ["<|endoftext|><|endoftext|>,"], Method = new DummyAttribution(), StepScores = [new Probability()] });
        float expected = ig.SequenceAttributions[0].StepScores["probability"][0] - baseline.SequenceAttributions[0].StepScores["probability"][0];
        Assert.Equal(expected, sum, Math.Abs(expected) * 0.01 + 1e-9);
    }

    [Fact]
    public void Attention_computed_once_equals_the_per_step_slices()
    {
        var model = AttributionParityTests.Model("gpt2");
        FeatureAttributionOutput full = model.Attribute(new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world, this is"], Method = new AttentionWeights() });
        FeatureAttributionOutput shorter = model.Attribute(new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Hello world,"], Method = new AttentionWeights() });

        // The first step's column does not depend on later tokens (causal attention).
        NdArray a = full.SequenceAttributions[0].TargetAttributions!, b = shorter.SequenceAttributions[0].TargetAttributions!;
        for (int row = 0; row < 2; row++)
        {
            for (int l = 0; l < 2; l++)
            {
                for (int h = 0; h < 2; h++)
                {
                    Assert.Equal(b[row, 0, l, h], a[row, 0, l, h], 6);
                }
            }
        }
    }

    [Fact]
    public void Native_output_round_trips_through_inseq_json()
    {
        var model = AttributionParityTests.Model("bart");
        FeatureAttributionOutput output = model.Attribute(new AttributionRequest(["Hello world"]) { GeneratedTexts = ["Bonjour"], Method = new Saliency(), StepScores = [new Probability(), new Entropy()] });
        FeatureAttributionOutput loaded = InseqJson.Parse(InseqJson.Serialize(output));
        AttributionParityTests.Compare(output, loaded, "round trip");
    }
}
