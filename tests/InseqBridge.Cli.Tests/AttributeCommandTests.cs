using InseqBridge.Data;
using InseqBridge.Serialization;
using InseqBridge.Native.Tests.Attribution;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>inseq-bridge attribute ... --save</c> writes what Python Inseq saved, raw and aggregated.</summary>
public class AttributeCommandTests
{
    [Theory]
    [InlineData("gpt2__integrated_gradients__forced", "--method", "integrated_gradients", "--n-steps", "10", "--input", "Hello world", "--input", "The cat sat on", "--generated", "Hello world, this is a test", "--generated", "The cat sat on the mat", "--step-scores", "probability")]
    [InlineData("bart__saliency__generated", "--method", "saliency", "--input", "Hello world", "--input", "The cat sat on the mat.", "--max-new-tokens", "4", "--step-scores", "probability")]
    [InlineData("gpt2__input_x_gradient__forced__contrast_prob_diff__single", "--method", "input_x_gradient", "--input", "Hello world", "--generated", "Hello world, this is a test", "--attributed-fn", "contrast_prob_diff", "--contrast-targets", "Hello world, this is a dog", "--step-scores", "contrast_prob_diff")]
    [InlineData("bart__input_x_gradient__forced__contrast_pcxmi_kl__single", "--method", "input_x_gradient", "--input", "Hello world", "--generated", "Bonjour le monde", "--contrast-targets", "Bonjour la monde", "--step-scores", "probability,pcxmi,kl_divergence")]
    public void Saved_file_matches_python_inseq(string caseId, params string[] args)
    {
        ReferenceCase reference = ReferenceCase.Get(caseId);
        using var folder = new TemporaryFolder();
        string raw = folder.File("raw.json"), aggregated = folder.File("aggregated.json");
        string[] common = ["attribute", "--model", Fixtures.ModelDir(reference.Model), .. args];
        CliResult first = CliRunner.Run([.. common, "--save", raw]);
        Assert.True(first.ExitCode == 0, first.ToString());
        CliResult second = CliRunner.Run([.. common, "--save", aggregated, "--aggregate"]);
        Assert.True(second.ExitCode == 0, second.ToString());

        AttributionParityTests.Compare(InseqJson.Load(reference.OutputPath), InseqJson.Load(raw), caseId);
        AttributionParityTests.Compare(InseqJson.Load(reference.AggregatedPath), InseqJson.Load(aggregated), caseId + " aggregated");
    }

    [Theory]
    [InlineData("float16")]
    [InlineData("float8")]
    public void Scores_precision_stores_the_float32_scores_rounded_to_that_precision(string precision)
    {
        using var folder = new TemporaryFolder();
        string full = folder.File("full.json"), reduced = folder.File("reduced.json");
        string[] common = ["attribute", "--model", Fixtures.ModelDir("gpt2"), "--method", "saliency", "--input", "Hello world", "--generated", "Hello world, this is", "--step-scores", "probability"];
        CliResult first = CliRunner.Run([.. common, "--save", full]);
        Assert.True(first.ExitCode == 0, first.ToString());
        CliResult second = CliRunner.Run([.. common, "--save", reduced, "--scores-precision", precision]);
        Assert.True(second.ExitCode == 0, second.ToString());

        var expected = InseqJson.Load(full).SequenceAttributions.Single();
        var actual = InseqJson.Load(reduced).SequenceAttributions.Single();
        Func<float, float> round = precision == "float16" ? v => (float)(Half)v : v => Float8E4M3.ToSingle(Float8E4M3.FromSingle(v));
        float[] want = [.. expected.TargetAttributions!.ToArray().Select(round)];
        Assert.Equal(want, actual.TargetAttributions!.ToArray());
        Assert.NotEqual(expected.TargetAttributions.ToArray(), actual.TargetAttributions.ToArray()); // really reduced
    }

    [Fact]
    public void Existing_output_is_not_overwritten()
    {
        using var folder = new TemporaryFolder();
        string path = folder.File("kept.json");
        File.WriteAllText(path, "user data");
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello", "--max-new-tokens", "2", "--save", path);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(path, result.Error, StringComparison.Ordinal);
        Assert.Equal("user data", File.ReadAllText(path));
    }

    [Theory]
    [InlineData("--method", "nope", "Unknown attribution method 'nope'")]
    [InlineData("--step-scores", "bogus", "Unknown step function 'bogus'")]
    [InlineData("--method-args", "n_steps=3", "does not accept argument(s): n_steps")]
    [InlineData("--attr-pos-start", "9", "attr_pos_start")]
    [InlineData("--step-scores-args", "logprob=true", "no selected step score takes 'logprob'")]
    [InlineData("--contrast-targets", "Hello world, hi", "no contrastive step function")]
    [InlineData("--contrast-sources", "Bye", "encoder-decoder")]
    public void Bad_requests_get_one_line_errors(string option, string value, string expected)
    {
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello world", "--generated", "Hello world again", option, value);
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Forced_text_must_start_with_the_prompt_for_decoder_only_models()
    {
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello world", "--generated", "Goodbye");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("does not start with its input text", result.Error, StringComparison.Ordinal);
    }
}
