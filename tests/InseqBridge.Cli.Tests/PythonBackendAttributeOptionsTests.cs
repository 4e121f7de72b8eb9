using System.Text.Json;
using InseqBridge.Serialization;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>The Inseq 0.7 attribute options with <c>--backend python</c> (real Inseq in a worker).</summary>
public class PythonBackendAttributeOptionsTests
{
    private static string Python => Environment.GetEnvironmentVariable("INSEQBRIDGE_TEST_PYTHON")!;

    [InseqPythonFact]
    public void Generate_from_target_prefix_is_passed_to_inseq()
    {
        using JsonDocument manifest = Fixtures.Json(Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "attribute-options", "prefix_manifest.json"));
        JsonElement c = manifest.RootElement[0];
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--backend", "python", "--python", Python, "--model", Fixtures.ModelDir("marian"), "--method", "saliency",
            "--input", c.GetProperty("input_texts")[0].GetString()!, "--generated", c.GetProperty("prefixes")[0].GetString()!,
            "--generate-from-target-prefix", "--max-new-tokens", "5", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(c.GetProperty("generated_texts")[0].GetString(), InseqJson.Load(folder.File("out.json")).Info["generated_texts"]![0]!.GetValue<string>());
    }

    [InseqPythonFact]
    public void Skip_special_tokens_is_refused_by_inseq_0_6_with_one_line()
    {
        CliResult result = CliRunner.Run("attribute", "--backend", "python", "--python", Python, "--model", Fixtures.ModelDir("gpt2"), "--method", "saliency",
            "--input", "Hello", "--generated", "Hello world", "--skip-special-tokens");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("skip_special_tokens needs Inseq 0.7 or later", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.Trim().Split('\n'));
    }
}
