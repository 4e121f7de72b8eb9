using InseqBridge.Attribution;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>explain ID</c>: documentation and arguments (name, type, default, allowed values) from the descriptors;
/// an unknown id is a one-line usage error naming the close ids.</summary>
public class ExplainCommandTests
{
    private static string[] Lines(string text) => [.. text.Split('\n').Select(l => l.TrimEnd('\r'))];

    private static string[] Cells(string line) => line.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    [Fact]
    public void A_method_is_explained_with_its_arguments_and_defaults()
    {
        CliResult result = CliRunner.Run("explain", "integrated_gradients");
        Assert.Equal(0, result.ExitCode);
        string[] lines = Lines(result.Output);
        Assert.Equal("integrated_gradients (attribution method)", lines[0]);
        Assert.Contains(lines, l => l.Contains("fast mode: yes (integrated gradients), for some configurations", StringComparison.Ordinal));
        Assert.Contains(lines, l => Cells(l) is ["n_steps", "int", "50", ">=", "1"]);
        Assert.Contains(lines, l => Cells(l) is ["method", "choice", "gausslegendre", "gausslegendre,", "riemann_right,", ..]);
        Assert.Contains(lines, l => Cells(l) is ["internal_batch_size", "int", "(none)", ">=", "1"]);
        Assert.Contains(lines, l => Cells(l) is ["return_convergence_delta", "bool", "false", "any"]);
    }

    [Fact]
    public void A_step_function_is_explained_with_its_arguments_and_defaults()
    {
        CliResult probability = CliRunner.Run("explain", "probability");
        Assert.Equal(0, probability.ExitCode);
        Assert.Contains(Lines(probability.Output), l => Cells(l) is ["logprob", "bool", "false", "any"]);
        CliResult topP = CliRunner.Run("explain", "top_p_size");
        Assert.Contains(Lines(topP.Output), l => Cells(l) is ["top_p", "float", "(required)", "[0,", "1]"]);
        CliResult kl = CliRunner.Run("explain", "kl_divergence");
        Assert.Contains("reference mode", kl.Output, StringComparison.Ordinal);
        Assert.Contains(Lines(kl.Output), l => Cells(l) is ["min_tokens_to_keep", "int", "1", ">=", "1"]);
        CliResult logit = CliRunner.Run("explain", "logit");
        Assert.Contains("arguments: none", logit.Output, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_known_id_is_explained_with_every_declared_argument()
    {
        foreach (AttributionMethodDescriptor method in AttributionMethodRegistry.All)
        {
            CliResult result = CliRunner.Run("explain", method.Id);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.Contains(method.Summary, result.Output, StringComparison.Ordinal);
            Assert.All(method.Arguments, a => Assert.Contains(Lines(result.Output), l => Cells(l) is [var name, var type, ..] && name == a.Name && type == a.TypeName));
        }

        foreach (StepFunctionDescriptor step in StepFunctionRegistry.All)
        {
            CliResult result = CliRunner.Run("explain", step.Id);
            Assert.True(result.ExitCode == 0, result.ToString());
            Assert.All(step.Arguments, a => Assert.Contains(Lines(result.Output), l => Cells(l) is [var name, var type, ..] && name == a.Name && type == a.TypeName));
        }
    }

    [Fact]
    public void An_unknown_id_is_a_one_line_usage_error_naming_close_ids()
    {
        CliResult result = CliRunner.Run("explain", "integrated_gradient");
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        string error = result.Error.Trim();
        Assert.DoesNotContain('\n', error);
        // Closest first (edit distance 1), then ids that contain the typed one.
        Assert.StartsWith("error: 'integrated_gradient' is neither an attribution method nor a step function. Did you mean integrated_gradients or ", error, StringComparison.Ordinal);
        Assert.EndsWith("?", error, StringComparison.Ordinal);

        CliResult step = CliRunner.Run("explain", "entropi");
        Assert.Contains("Did you mean entropy", step.Error, StringComparison.Ordinal);
        CliResult far = CliRunner.Run("explain", "qqqqqqqq");
        Assert.Contains("See list-methods and list-step-functions", far.Error, StringComparison.Ordinal);
    }
}
