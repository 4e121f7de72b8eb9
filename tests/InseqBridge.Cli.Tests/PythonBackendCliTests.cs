using System.Diagnostics;
using System.Text.Json.Nodes;
using InseqBridge.Serialization;
using InseqBridge.Native.Tests.Attribution;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>parity</c> and <c>attribute --backend python</c>. This process loads TorchSharp, so Python only ever
/// runs in the worker process here.</summary>
public class PythonBackendCliTests
{
    private static string ManifestPath => Path.Combine(Fixtures.ParityDir, "manifest.json");

    private static string AttributionsDir => Path.Combine(Fixtures.ParityDir, "attributions");

    [Fact]
    public void Parity_against_saved_references_prints_a_row_per_case_and_succeeds()
    {
        CliResult result = CliRunner.Run("parity", "--model", Fixtures.ModelDir("gpt2"), "--methods", "saliency,attention",
            "--cases", ManifestPath, "--reference", AttributionsDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Output.Split('\n');
        Assert.StartsWith("case", lines[0]);
        foreach (string column in new[] { "max abs diff", "max rel diff", "tolerance", "verdict" })
        {
            Assert.Contains(column, lines[0]);
        }

        Assert.Contains(lines, l => l.StartsWith("gpt2__saliency__forced ", StringComparison.Ordinal) && l.TrimEnd().EndsWith("ok", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.StartsWith("gpt2__attention__generated ", StringComparison.Ordinal) && l.TrimEnd().EndsWith("ok", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.StartsWith("bart__", StringComparison.Ordinal)); // other models' cases are left out
    }

    [Theory]
    [InlineData("gpt2")]
    [InlineData("bart")]
    public void Parity_runs_the_sampling_and_perturbation_cases_of_the_manifest_and_they_pass(string model)
    {
        // gradient_shap (n_samples), occlusion, lime and value_zeroing: read by the same parser as the parity tests,
        // compared within each method's tolerance.
        string[] methods = ["gradient_shap", "occlusion", "lime", "value_zeroing"];
        CliResult result = CliRunner.Run("parity", "--model", Fixtures.ModelDir(model), "--methods", string.Join(",", methods),
            "--cases", ManifestPath, "--reference", AttributionsDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Output.Split('\n');
        var expected = JsonNode.Parse(File.ReadAllText(ManifestPath))!["cases"]!.AsArray()
            .Where(c => c!["model"]!.GetValue<string>() == model && methods.Contains(c["method"]!.GetValue<string>()) && c["ok"]!.GetValue<bool>())
            .Select(c => c!["id"]!.GetValue<string>())
            .ToList();
        Assert.Equal(8, expected.Count);
        foreach (string id in expected)
        {
            Assert.Contains(lines, l => l.StartsWith(id + " ", StringComparison.Ordinal) && l.TrimEnd().EndsWith("ok", StringComparison.Ordinal));
        }

        Assert.Contains("0 skipped", result.Output);
    }

    [Fact]
    public void Parity_without_methods_runs_every_method_of_the_cases_file()
    {
        CliResult result = CliRunner.Run("parity", "--model", Fixtures.ModelDir("gpt2"), "--cases", ManifestPath, "--reference", AttributionsDir);
        Assert.True(result.ExitCode == 0, result.ToString());
        string[] lines = result.Output.Split('\n');
        int expected = JsonNode.Parse(File.ReadAllText(ManifestPath))!["cases"]!.AsArray()
            .Count(c => c!["model"]!.GetValue<string>() == "gpt2" && c["ok"]!.GetValue<bool>());
        Assert.Contains($"{expected} case(s): {expected - 4} within tolerance, 0 violation(s) or error(s), 4 skipped", result.Output);

        // Inseq 0.6's layer integrated gradients / layer DeepLIFT references are all zero: reported, not compared.
        foreach (string method in new[] { "layer_integrated_gradients", "layer_deeplift" })
        {
            Assert.Contains(lines, l => l.StartsWith($"gpt2__{method}__forced ", StringComparison.Ordinal) && l.Contains("skipped (Inseq 0.6 returns all zeros", StringComparison.Ordinal));
        }

        Assert.Contains(lines, l => l.StartsWith("gpt2__sequential_integrated_gradients__forced ", StringComparison.Ordinal) && l.TrimEnd().EndsWith("ok", StringComparison.Ordinal));
    }

    [Fact]
    public void Parity_exits_nonzero_when_a_reference_disagrees()
    {
        using var folder = new TemporaryFolder();

        // The saliency output stands in as the reference of the input_x_gradient case: same shapes, other values.
        File.Copy(Path.Combine(AttributionsDir, "gpt2__saliency__forced.json"), folder.File("gpt2__input_x_gradient__forced.json"));
        JsonObject c = (JsonObject)JsonNode.Parse(File.ReadAllText(ManifestPath))!["cases"]!.AsArray()
            .Single(x => x!["id"]!.GetValue<string>() == "gpt2__input_x_gradient__forced")!.DeepClone();
        c.Remove("output_file");
        File.WriteAllText(folder.File("cases.json"), new JsonArray(c).ToJsonString());

        CliResult result = CliRunner.Run("parity", "--model", Fixtures.ModelDir("gpt2"), "--methods", "input_x_gradient",
            "--cases", folder.File("cases.json"), "--reference", folder.Path);
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("VIOLATION", result.Output);
        Assert.Contains("target_attributions", result.Output);
    }

    [Fact]
    public void Attribute_with_a_missing_python_names_what_was_tried_and_environment_yml()
    {
        CliResult result = CliRunner.Run("attribute", "--backend", "python", "--python", "/nonexistent/python3",
            "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello");
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("No usable Python", result.Error);
        Assert.Contains("/nonexistent/python3", result.Error);
        Assert.Contains("environment.yml", result.Error);
    }

    [Fact]
    public void Python_option_without_the_python_backend_is_a_usage_error()
    {
        CliResult result = CliRunner.Run("attribute", "--python", "/usr/bin/python3", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("--backend python", result.Error);
    }

    [InseqPythonFact]
    public void Attribute_with_the_python_backend_matches_the_saved_python_output()
    {
        ReferenceCase reference = ReferenceCase.Get("marian__saliency__forced");
        using var folder = new TemporaryFolder();
        string saved = folder.File("out.json");
        JsonObject a = (JsonObject)JsonNode.Parse(reference.Attribute.GetRawText())!;
        var args = new List<string> { "attribute", "--backend", "python", "--python", Environment.GetEnvironmentVariable("INSEQBRIDGE_TEST_PYTHON")!, "--model", Fixtures.ModelDir("marian"), "--method", "saliency", "--step-scores", "probability", "--save", saved };
        foreach (JsonNode? t in a["input_texts"]!.AsArray())
        {
            args.AddRange(["--input", t!.GetValue<string>()]);
        }

        foreach (JsonNode? t in a["generated_texts"]!.AsArray())
        {
            args.AddRange(["--generated", t!.GetValue<string>()]);
        }

        CliResult result = CliRunner.Run([.. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        AttributionParityTests.Compare(InseqJson.Load(reference.OutputPath), InseqJson.Load(saved), "python backend via CLI");
    }

    /// <summary>Null when INSEQBRIDGE_TEST_PYTHON imports inseq, transformers and torch; otherwise the skip reason.</summary>
    internal static string? InseqPythonMissing()
    {
        string? python = Environment.GetEnvironmentVariable("INSEQBRIDGE_TEST_PYTHON");
        if (string.IsNullOrEmpty(python) || !File.Exists(python))
        {
            return "INSEQBRIDGE_TEST_PYTHON is not set to a Python executable";
        }

        var start = new ProcessStartInfo(python) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        start.ArgumentList.Add("-c");
        start.ArgumentList.Add("import torch, transformers, inseq");
        using Process process = Process.Start(start)!;
        string error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return process.ExitCode == 0 ? null : $"{python} cannot import torch, transformers and inseq ({error.Trim().Split('\n')[^1]})";
    }
}

/// <summary>A fact that is skipped, with the reason, unless INSEQBRIDGE_TEST_PYTHON imports inseq, transformers and torch.</summary>
public sealed class InseqPythonFactAttribute : FactAttribute
{
    /// <summary>Creates the attribute.</summary>
    public InseqPythonFactAttribute()
    {
        if (PythonBackendCliTests.InseqPythonMissing() is { } reason)
        {
            Skip = reason;
        }
    }
}
