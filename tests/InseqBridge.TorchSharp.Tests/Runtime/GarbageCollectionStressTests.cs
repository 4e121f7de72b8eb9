using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Native.Attribution;
using InseqBridge.Native.Tests.Attribution;
using TorchSharp;

namespace InseqBridge.Native.Tests.Runtime;

/// <summary>
/// Garbage collections forced while eight threads attribute: a TorchSharp scalar left to the finalizer during the
/// native call that uses it would be freed under the running operator (a crash, or a silently wrong number). The backend
/// creates no such temporaries (enforced at build time by the IB0001/IB0002 analyzer); this test exercises it. It runs
/// in the normal, parallel test collection on purpose: other test classes attribute at the same time, so their native
/// calls see these collections too.
/// </summary>
public class GarbageCollectionStressTests
{
    private const int Threads = 8;
    private const int Rounds = 1;

    private static AttributionRequest Request(string method, string generated, Dictionary<string, string>? arguments = null) => new(["Hello world"])
    {
        GeneratedTexts = [generated],
        Method = AttributionMethod.FromId(method, arguments ?? []),
        StepScores = [new Probability(), new Entropy(), new Perplexity(), new CrossEntropy()],
    };

    [Fact]
    public async Task Forced_collections_while_eight_threads_attribute_change_no_result()
    {
        (string Model, AttributionRequest Request)[] cases =
        [
            ("gpt2", Request("integrated_gradients", "Hello world, this is a test", new() { ["n_steps"] = "5" })),
            ("gpt2", Request("saliency", "Hello world, this is") with { Mode = ExecutionMode.Reference }),
            ("llama", Request("input_x_gradient", "Hello world, this is a test")),
            ("llama", Request("deeplift", "Hello world, this")),
            ("bart", Request("gradient_shap", "Hello world", new() { ["n_samples"] = "3" })),
            ("bart", Request("value_zeroing", "Hello world") with { StepScores = [] }),
            ("t5", Request("saliency", "Hello world")),
            ("gemma", Request("layer_integrated_gradients", "Hello world, this is", new() { ["n_steps"] = "4" })),
            ("gpt2", Request("occlusion", "Hello world, this") with { StepScores = [] }),
            ("opt", Request("attention", "Hello world, this is a") with { StepScores = [] }),
        ];
        FeatureAttributionOutput[] sequential = cases.Select(c => AttributionParityTests.Model(c.Model).Attribute(c.Request)).ToArray();

        using var stop = new CancellationTokenSource();
        int collectionsBefore = GC.CollectionCount(GC.MaxGeneration);
        Task hammer = Task.Factory.StartNew(
            () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    // Garbage with finalizers keeps the finalizer thread busy while the attributions run.
                    for (int i = 0; i < 64; i++)
                    {
                        _ = 0.5.ToScalar();
                    }

                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    Thread.Sleep(1);
                }
            },
            TaskCreationOptions.LongRunning);

        try
        {
            FeatureAttributionOutput?[,] concurrent = new FeatureAttributionOutput?[Threads, Rounds * cases.Length];
            Task[] workers = Enumerable.Range(0, Threads).Select(t => Task.Factory.StartNew(
                () =>
                {
                    for (int k = 0; k < Rounds * cases.Length; k++)
                    {
                        var c = cases[(k + t) % cases.Length];
                        concurrent[t, k] = AttributionParityTests.Model(c.Model).Attribute(c.Request);
                    }
                },
                TaskCreationOptions.LongRunning)).ToArray();
            await Task.WhenAll(workers);

            for (int t = 0; t < Threads; t++)
            {
                for (int k = 0; k < Rounds * cases.Length; k++)
                {
                    int index = (k + t) % cases.Length;
                    AttributionParityTests.Compare(sequential[index], concurrent[t, k]!, $"thread {t}, call {k} ({cases[index].Model} {cases[index].Request.Method?.Id})");
                }
            }
        }
        finally
        {
            stop.Cancel();
            await hammer;
        }

        Assert.True(GC.CollectionCount(GC.MaxGeneration) - collectionsBefore >= 10, "the stress test forced too few full collections to mean anything");
    }
}
