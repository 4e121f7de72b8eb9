using InseqBridge.Native;
using InseqBridge.Native.Tests;
namespace InseqBridge.Cli.Tests;

/// <summary>Errors are one or two <c>error:</c> lines on stderr with exit code 1 (2 for usage), never a stack trace.</summary>
public class CliErrorTests
{
    [Theory]
    [InlineData("tokenize")]
    [InlineData("forward")]
    [InlineData("generate")]
    public void Missing_model_folder_is_reported(string command)
    {
        using var folder = new TemporaryFolder();
        string missing = folder.File("no-such-model");
        CliResult result = CliRunner.Run(Args(command, missing, folder.File("out.safetensors")));
        AssertFailure(result, 1);
        Assert.Contains("no-such-model", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("forward")]
    [InlineData("generate")]
    public void Folder_without_config_json_is_reported(string command)
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run(Args(command, folder.Path, folder.File("out.safetensors")));
        AssertFailure(result, 1);
        Assert.Contains("config.json", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_model_type_is_reported()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("config.json"), """{"model_type": "mamba", "vocab_size": 10}""");
        CliResult result = CliRunner.Run(Args("generate", folder.Path, folder.File("out.safetensors")));
        AssertFailure(result, 1);
        Assert.Contains("mamba", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_refuses_to_overwrite_unless_asked()
    {
        using var folder = new TemporaryFolder();
        string save = folder.File("existing.safetensors");
        File.WriteAllText(save, "keep me");
        string model = Fixtures.ModelDir("gpt2");
        CliResult refused = CliRunner.Run("forward", "--model", model, "--input", "Hello world", "--save", save);
        AssertFailure(refused, 1);
        Assert.Contains("--overwrite", refused.Error, StringComparison.Ordinal);
        Assert.Equal("keep me", File.ReadAllText(save));

        CliResult replaced = CliRunner.Run("forward", "--model", model, "--input", "Hello world", "--save", save, "--overwrite");
        Assert.True(replaced.ExitCode == 0, replaced.ToString());
        Assert.NotEqual("keep me", File.ReadAllText(save));
    }

    [Fact]
    public void Decoder_ids_on_a_decoder_only_model_are_a_usage_error()
    {
        using var folder = new TemporaryFolder();
        CliResult result = CliRunner.Run(
            "forward", "--model", Fixtures.ModelDir("gpt2"), "--input", "Hi", "--decoder-input-ids", "1,2", "--save", folder.File("x"));
        AssertFailure(result, 2);
    }

    [Theory]
    [InlineData("tokenize", "--text", "x")]
    [InlineData("forward", "--model", "m", "--input", "x", "--save", "f", "--no-such-flag")]
    [InlineData("no-such-command")]
    public void Usage_errors_exit_with_2(params string[] args)
    {
        AssertFailure(CliRunner.Run(args), 2);
    }

    [Fact]
    public void Show_reports_a_missing_file()
    {
        using var folder = new TemporaryFolder();
        AssertFailure(CliRunner.Run("show", folder.File("missing.json")), 1);
    }

    private static string[] Args(string command, string model, string save) => command switch
    {
        "tokenize" => ["tokenize", "--model", model, "--text", "Hello"],
        "forward" => ["forward", "--model", model, "--input", "Hello", "--save", save],
        _ => ["generate", "--model", model, "--input", "Hello", "--max-new-tokens", "2"],
    };

    private static void AssertFailure(CliResult result, int exitCode)
    {
        Assert.True(result.ExitCode == exitCode, result.ToString());
        string[] lines = result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.InRange(lines.Length, 1, 2);
        Assert.StartsWith("error: ", lines[0], StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Error, StringComparison.Ordinal);
    }
}
