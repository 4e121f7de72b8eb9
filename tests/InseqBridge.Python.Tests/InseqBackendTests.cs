using System.Diagnostics;
using System.Text.Json.Nodes;
using InseqBridge.Attribution;
using InseqBridge.Data;
using InseqBridge.Parity;
using Xunit.Abstractions;

namespace InseqBridge.Python.Tests;

/// <summary>Real Python Inseq through the worker, against the outputs Python Inseq saved in the fixtures.</summary>
public class InseqBackendTests(ITestOutputHelper output)
{
    private static readonly JsonObject SlowTokenizer = new() { ["tokenizer_kwargs"] = new JsonObject { ["use_fast"] = false } };

    private static PythonAttributionModel Load(string model, string method) =>
        PythonAttributionModel.Load(
            Path.Combine(Fixtures.ParityDir, "models", model),
            InseqMethod.Resolve(method),
            PythonTestEnvironment.Options("torch", "transformers", "inseq"),
            (JsonObject)SlowTokenizer.DeepClone());

    private FeatureAttributionOutput RunCase(PythonAttributionModel model, string caseId)
    {
        JsonObject c = Fixtures.Case(caseId);
        AttributionRequest request = InseqCallArguments.FromKwargs(c["method"]!.GetValue<string>(), (JsonObject)c["attribute"]!, out string? reason)
            ?? throw new InvalidOperationException(reason);
        FeatureAttributionOutput actual = model.Attribute(request);
        FeatureAttributionOutput expected = FeatureAttributionOutput.Load(Path.Combine(Fixtures.ParityDir, c["output_file"]!.GetValue<string>()));
        ParityResult result = ParityComparer.Compare(expected, actual);
        output.WriteLine($"{caseId}: max abs {result.MaxAbsoluteDifference:E2}, max rel {result.MaxRelativeDifference:E2}");
        Assert.True(result.Passed, string.Join(Environment.NewLine, result.Violations));
        return actual;
    }

    [PythonInseqFact]
    public void Python_inseq_reproduces_the_saved_reference_outputs()
    {
        using (PythonAttributionModel gpt2 = Load("gpt2", "saliency"))
        {
            Assert.Equal("GPT2LMHeadModel", gpt2.Info.ModelClass);
            Assert.False(gpt2.IsEncoderDecoder);
            RunCase(gpt2, "gpt2__saliency__forced");
        }

        using PythonAttributionModel bart = Load("bart", "integrated_gradients");
        Assert.True(bart.IsEncoderDecoder);
        RunCase(bart, "bart__integrated_gradients__generated");
    }

    [PythonInseqFact]
    public void A_worker_killed_during_an_attribution_gives_a_typed_error_and_the_next_call_works()
    {
        using PythonAttributionModel model = Load("gpt2", "integrated_gradients");
        var request = new AttributionRequest(["The quick brown fox jumps over the lazy dog and keeps running far away"])
        {
            Method = new IntegratedGradients { Steps = 300 },
            Generation = new GenerationArguments { MaxNewTokens = 30 },
        };
        int pid = model.Backend.WorkerProcessId!.Value;
        var killer = Task.Run(async () =>
        {
            await Task.Delay(1500);
            using Process worker = Process.GetProcessById(pid);
            worker.Kill();
        });
        var e = Assert.Throws<PythonWorkerException>(() => model.Attribute(request));
        killer.Wait();
        Assert.Equal(137, e.ExitCode);

        // The next call starts a new worker, loads the model again and matches the reference.
        RunCase(model, "gpt2__integrated_gradients__forced");
        Assert.NotEqual(pid, model.Backend.WorkerProcessId);
    }

    [PythonInseqFact]
    public void An_inseq_error_comes_back_as_a_typed_exception_with_the_python_traceback()
    {
        using PythonAttributionModel model = Load("gpt2", "attention");
        var e = Assert.Throws<PythonExecutionException>(() => model.Attribute(new AttributionRequest(["Hello"]) { StepScores = [new Probability()] }));
        Assert.Equal("ValueError", e.PythonType);
        Assert.Contains("Step scores are not supported for final step methods", e.PythonMessage);
        Assert.Contains("inseq", e.PythonTraceback);
    }
}
