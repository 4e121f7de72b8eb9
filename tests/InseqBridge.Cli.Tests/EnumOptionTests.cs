using InseqBridge.Native;
using InseqBridge.Native.Tests;
namespace InseqBridge.Cli.Tests;

/// <summary>Options with a fixed set of values (parsed into the API's enums): the values are listed in --help, the
/// spellings of before are accepted as they were, and any other value is a one-line usage error.</summary>
public class EnumOptionTests
{
    [Theory]
    [InlineData("attribute", "--backend", "native|python")]
    [InlineData("attribute", "--mode", "fast|reference")]
    [InlineData("attribute", "--save-format", "0.6|0.7")]
    [InlineData("attribute", "--scores-precision", "float32|float16|float8")]
    [InlineData("attribute", "--tokenizer", "fast|slow|auto")]
    [InlineData("attribute", "--dtype", "float32|bfloat16|float16")]
    [InlineData("attribute-dataset", "--format", "json|jsonl|parquet")]
    [InlineData("parity", "--tokenizer", "fast|slow|auto")]
    public void Help_lists_the_allowed_values(string command, string option, string values)
    {
        CliResult result = CliRunner.Run(command, "--help");
        Assert.Equal(0, result.ExitCode);
        Assert.Contains($"{option} <{values}>", result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("--backend", "Python", "native, python")]
    [InlineData("--mode", "Fast", "fast, reference")]
    [InlineData("--save-format", "Inseq06", "0.6, 0.7")]
    [InlineData("--scores-precision", "float64", "float32, float16, float8")]
    [InlineData("--tokenizer", "sentencepiece", "fast, slow, auto")]
    [InlineData("--dtype", "int8", "float32, bfloat16, float16")]
    public void Another_value_is_a_one_line_usage_error_naming_the_option_and_the_values(string option, string value, string allowed)
    {
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello", option, value);
        Assert.Equal(2, result.ExitCode);
        string first = result.Error.Split('\n')[0];
        Assert.Equal($"error: {option}: '{value}' is not one of {allowed}.", first.TrimEnd());
        Assert.DoesNotContain("InseqBridge.", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void The_lowercase_spellings_work_as_before()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hello", "--generated", "Hello world",
            "--backend", "native", "--mode", "reference", "--save-format", "0.6", "--scores-precision", "float16", "--tokenizer", "slow",
            "--dtype", "float32", "--save", folder.File("out.json"));
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("\"__ndarray__\"", File.ReadAllText(folder.File("out.json")), StringComparison.Ordinal);
    }
}
