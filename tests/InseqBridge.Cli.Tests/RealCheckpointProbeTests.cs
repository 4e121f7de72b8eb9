using System.Text.Json;
using InseqBridge.Native.Tests.Models;
using TorchSharp;
using static TorchSharp.torch;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>forward</c> and <c>generate</c> with <c>--input-ids</c> (and <c>--dtype</c>) on the real-checkpoint fixtures,
/// which hold no tokenizer.json: the ids go in as they are.</summary>
public class RealCheckpointProbeTests
{
    [Theory]
    [InlineData("mistral_swa_sharded", 1, null, 1e-4)]
    [InlineData("llama3_tied_rope", 1, "bfloat16", 6e-3)]
    public void Forward_with_input_ids_saves_the_transformers_logits(string name, int input, string? dtype, double tolerance)
    {
        using var reference = RealCheckpointTests.ReferenceLogits.Load(name, input);
        using var folder = new TemporaryFolder();
        string save = folder.File("logits.safetensors");
        var args = new List<string> { "forward", "--model", Fixtures.RealModelDir(name), "--input-ids", string.Join(",", reference.InputIds.data<long>().ToArray()), "--save", save };
        if (dtype is not null)
        {
            args.AddRange(["--dtype", dtype]);
        }

        CliResult result = CliRunner.Run([.. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var saved = InseqBridge.Native.Checkpoints.SafetensorsCheckpoint.LoadFile(save);
        using var scope = torch.NewDisposeScope();
        Tensor logits = saved["logits"];
        Assert.Equal(reference.Logits.shape[0], logits.shape[0]);
        double maxDiff = (logits.index_select(1, reference.Columns) - reference.Logits).abs().max().item<float>();
        Assert.True(maxDiff <= tolerance, $"{name} ({dtype ?? "float32"}): max |logits - transformers| = {maxDiff:E3}");
    }

    [Theory]
    [InlineData("qwen2_tied_fp16", 2)]
    [InlineData("llama3_tied_rope", 0)]
    public void Generate_with_input_ids_matches_transformers(string name, int input)
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Fixtures.RealModelDir(name), "generation.json"));
        JsonElement entry = doc.RootElement.GetProperty("inputs")[input];
        CliResult result = CliRunner.Run(
            "generate", "--model", Fixtures.RealModelDir(name), "--input-ids", string.Join(",", RealCheckpointTests.Ints(entry.GetProperty("input_ids"))), "--max-new-tokens", "8");
        Assert.True(result.ExitCode == 0, result.ToString());
        using JsonDocument actual = JsonDocument.Parse(result.Output);
        Assert.Equal(RealCheckpointTests.Ints(entry.GetProperty("new_token_ids")), RealCheckpointTests.Ints(actual.RootElement.GetProperty("ids")));
    }

    [Fact]
    public void Input_and_input_ids_are_exclusive()
    {
        string dir = Fixtures.RealModelDir("qwen2_tied_fp16");
        CliResult both = CliRunner.Run("generate", "--model", dir, "--input", "Hi", "--input-ids", "1,2");
        Assert.NotEqual(0, both.ExitCode);
        Assert.Contains("--input-ids", both.Error, StringComparison.Ordinal);
        CliResult neither = CliRunner.Run("generate", "--model", dir);
        Assert.NotEqual(0, neither.ExitCode);
        Assert.Contains("--input-ids", neither.Error, StringComparison.Ordinal);
        CliResult bad = CliRunner.Run("generate", "--model", dir, "--input-ids", "1,x");
        Assert.NotEqual(0, bad.ExitCode);
        Assert.Contains("'x'", bad.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_reduced_dtype_on_an_architecture_without_it_is_a_typed_error()
    {
        CliResult result = CliRunner.Run("forward", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello", "--dtype", "bfloat16", "--save", Path.Combine(Path.GetTempPath(), "never-written.safetensors"));
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("float32", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }
}
