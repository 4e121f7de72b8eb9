using InseqBridge.Native.Checkpoints;
using InseqBridge.Native.Models;
using TorchSharp;
using Xunit.Abstractions;
using static TorchSharp.torch;

namespace InseqBridge.Native.Tests.Models;

/// <summary>Forward passes match transformers' logits (reference: logits.safetensors, made by transformers 4.39).</summary>
public class LogitsParityTests(ITestOutputHelper output)
{
    /// <summary>Absolute tolerance from the models issue: fp32 logits within 1e-4.</summary>
    private const double Tolerance = 1e-4;

    public static TheoryData<string, int> Cases()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in Fixtures.ModelNames)
        {
            for (int i = 0; i < 3; i++)
            {
                data.Add(model, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Logits_match_transformers(string modelName, int input)
    {
        TransformerLanguageModel model = Fixtures.Model(modelName);
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var reference = SafetensorsCheckpoint.LoadFile(Path.Combine(Fixtures.ModelDir(modelName), "logits.safetensors"));
        try
        {
            Tensor inputIds = reference[$"input_{input}.input_ids"].unsqueeze(0);
            Tensor expected = reference[$"input_{input}.logits"];
            Tensor logits;
            if (model.IsEncoderDecoder)
            {
                Tensor decoderIds = reference[$"input_{input}.decoder_input_ids"].unsqueeze(0);
                EncoderOutput encoder = model.Encode(model.EmbedEncoderTokens(inputIds), null, ForwardOptions.None);
                logits = model.Decode(model.EmbedDecoderTokens(decoderIds), null, null, encoder, null, null, ForwardOptions.None).Logits[0];
            }
            else
            {
                logits = model.Decode(model.EmbedDecoderTokens(inputIds), null, null, null, null, null, ForwardOptions.None).Logits[0];
            }

            Assert.Equal(expected.shape, logits.shape);
            double maxDiff = (logits - expected).abs().max().item<float>();
            output.WriteLine($"{modelName} input {input}: max |logits - transformers| = {maxDiff:E3}");
            Assert.True(maxDiff <= Tolerance, $"{modelName} input {input}: max |logits - transformers| = {maxDiff:E3} > {Tolerance:E0}");
        }
        finally
        {
            foreach (Tensor t in reference.Values)
            {
                t.Dispose();
            }
        }
    }
}
