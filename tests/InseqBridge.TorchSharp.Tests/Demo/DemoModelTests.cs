using InseqBridge.Aggregation;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution;
using Xunit.Abstractions;

namespace InseqBridge.Native.Tests.Demo;

/// <summary>
/// examples/models/words2digits turns number words into digits ("seven two" -> "72"): the k-th digit depends on the
/// k-th word only, so the right attribution of every generated digit is known. Gradient methods must put their
/// largest score on that word for at least 90% of the digits.
/// </summary>
public class DemoModelTests(ITestOutputHelper log)
{
    private static readonly string[] Words = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"];

    public static string ModelDir => Path.Combine(Fixtures.RepositoryRoot, "examples", "models", "words2digits");

    private static (List<string> Inputs, List<string> Digits) Examples(int count, int seed)
    {
        var random = new Random(seed);
        var inputs = new List<string>();
        var digits = new List<string>();
        for (int i = 0; i < count; i++)
        {
            int[] d = Enumerable.Range(0, random.Next(1, 9)).Select(_ => random.Next(10)).ToArray();
            inputs.Add(string.Join(' ', d.Select(x => Words[x])));
            digits.Add(string.Concat(d));
        }

        return (inputs, digits);
    }

    [Fact]
    public void Generates_the_digits()
    {
        using NativeAttributionModel model = NativeAttributionModel.Load(ModelDir);
        var (inputs, digits) = Examples(40, 7);
        FeatureAttributionOutput output = model.Attribute(new AttributionRequest(inputs) { Method = new DummyAttribution() });
        var generated = output.Info["generated_texts"]!.AsArray().Select(n => n!.GetValue<string>()).ToList();
        Assert.Equal(digits, generated);
    }

    [Theory]
    [InlineData("integrated_gradients")]
    [InlineData("saliency")]
    [InlineData("input_x_gradient")]
    public void Most_weight_goes_to_the_word_of_each_digit(string methodId)
    {
        AttributionMethod method = AttributionMethod.FromId(methodId, new Dictionary<string, string>());
        using NativeAttributionModel model = NativeAttributionModel.Load(ModelDir, method);
        var (inputs, _) = Examples(24, 11);
        FeatureAttributionOutput output = model.Attribute(new AttributionRequest(inputs) { Method = method }).Aggregate();
        int digitsSeen = 0, right = 0;
        foreach (FeatureAttributionSequenceOutput sequence in output.SequenceAttributions)
        {
            NdArray scores = sequence.SourceAttributions!;
            int k = 0;
            for (int step = 0; step < sequence.StepCount; step++)
            {
                string token = sequence.Target[sequence.AttrPosStart + step].Token;
                if (token.Length != 1 || !char.IsAsciiDigit(token[0]))
                {
                    continue; // <s> and </s> have no single source word
                }

                int expected = k + 1; // source: <s> word0 ␣word1 ... </s>
                int best = Enumerable.Range(0, scores.Shape[0]).MaxBy(row => scores[row, step]);
                digitsSeen++;
                right += best == expected ? 1 : 0;
                k++;
            }
        }

        double share = right / (double)digitsSeen;
        log.WriteLine($"{methodId}: {right}/{digitsSeen} digits ({share:P1}) have their word as the top source token");
        Assert.True(digitsSeen > 50, $"only {digitsSeen} digits generated");
        Assert.True(share >= 0.9, $"{methodId}: {share:P1} of the digits point at their word");
    }
}
