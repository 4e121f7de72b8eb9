using System.Text.Json;
using InseqBridge.Serialization;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary>The CLI probes reproduce the Python references in the fixtures (tokenization.json, logits.safetensors,
/// generation.json) for every fixture model.</summary>
public class ProbeParityTests
{
    private const double LogitsTolerance = 1e-4;

    public static TheoryData<string, int> TokenizationCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in Fixtures.ModelNames)
        {
            for (int i = 0; i < 4; i++)
            {
                data.Add(model, i);
            }
        }

        return data;
    }

    public static TheoryData<string, int> InputCases()
    {
        var data = new TheoryData<string, int>();
        foreach (string model in Fixtures.ModelNames)
        {
            for (int i = 0; i < 3; i++)
            {
                data.Add(model, i);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(TokenizationCases))]
    public void Tokenize_matches_the_python_tokenizer(string model, int caseIndex)
    {
        using JsonDocument doc = Fixtures.Json(Path.Combine(Fixtures.ModelDir(model), "tokenization.json"));
        JsonElement c = doc.RootElement.GetProperty("cases")[caseIndex];
        string text = c.GetProperty("text").GetString()!;
        foreach (bool special in new[] { true, false })
        {
            string suffix = special ? "with_special_tokens" : "without_special_tokens";
            string[] args = special
                ? ["tokenize", "--model", Fixtures.ModelDir(model), "--text", text]
                : ["tokenize", "--model", Fixtures.ModelDir(model), "--text", text, "--no-special-tokens"];
            CliResult result = CliRunner.Run(args);
            Assert.True(result.ExitCode == 0, result.ToString());
            using JsonDocument actual = JsonDocument.Parse(result.Output);
            Assert.Equal(Ints(c.GetProperty("ids_" + suffix)), Ints(actual.RootElement.GetProperty("ids")));
            Assert.Equal(Strings(c.GetProperty("tokens_" + suffix)), Strings(actual.RootElement.GetProperty("tokens")));
        }
    }

    [Theory]
    [MemberData(nameof(InputCases))]
    public void Forward_saves_the_transformers_logits(string model, int input)
    {
        string dir = Fixtures.ModelDir(model);
        using JsonDocument doc = Fixtures.Json(Path.Combine(dir, "logits.json"));
        JsonElement entry = doc.RootElement.GetProperty("inputs")[input];
        using var folder = new TemporaryFolder();
        string save = folder.File("logits.safetensors");
        var args = new List<string> { "forward", "--model", dir, "--input", entry.GetProperty("text").GetString()!, "--save", save };
        if (entry.TryGetProperty("decoder_input_ids", out JsonElement decoderIds))
        {
            args.AddRange(["--decoder-input-ids", string.Join(",", Ints(decoderIds))]);
        }

        CliResult result = CliRunner.Run([.. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        SafetensorsTensor actual = SafetensorsFormat.Read(File.ReadAllBytes(save))["logits"];
        SafetensorsTensor expected = SafetensorsFormat.Read(File.ReadAllBytes(Path.Combine(dir, "logits.safetensors")))[$"input_{input}.logits"];
        Assert.Equal(SafetensorsDType.F32, actual.DType);
        Assert.Equal(expected.Shape, actual.Shape);
        double maxDiff = expected.Floats!.Zip(actual.Floats!, (e, a) => Math.Abs((double)e - a)).Max();
        Assert.True(maxDiff <= LogitsTolerance, $"{model} input {input}: max |logits - transformers| = {maxDiff:E3}");
    }

    [Theory]
    [MemberData(nameof(InputCases))]
    public void Generate_matches_transformers_generate(string model, int input)
    {
        string dir = Fixtures.ModelDir(model);
        using JsonDocument doc = Fixtures.Json(Path.Combine(dir, "generation.json"));
        JsonElement entry = doc.RootElement.GetProperty("inputs")[input];
        CliResult result = CliRunner.Run(
            "generate", "--model", dir, "--input", entry.GetProperty("text").GetString()!, "--max-new-tokens", "8");
        Assert.True(result.ExitCode == 0, result.ToString());
        using JsonDocument actual = JsonDocument.Parse(result.Output);
        Assert.Equal(Ints(entry.GetProperty("new_token_ids")), Ints(actual.RootElement.GetProperty("ids")));

        // The fixture decodes transformers' whole output: for decoder-only models that includes the prompt.
        string expectedText = entry.GetProperty("decoded_skip_special_tokens").GetString()!;
        string text = actual.RootElement.GetProperty("text").GetString()!;
        if (Fixtures.Model(model).IsEncoderDecoder)
        {
            Assert.Equal(expectedText, text);
        }
        else
        {
            Assert.EndsWith(text, expectedText, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void List_commands_print_the_known_ids()
    {
        CliResult methods = CliRunner.Run("list-methods");
        Assert.Equal(0, methods.ExitCode);
        Assert.Contains("integrated_gradients", methods.Output.Split('\n').Select(l => l.Trim()));
        CliResult steps = CliRunner.Run("list-step-functions");
        Assert.Equal(0, steps.ExitCode);
        Assert.Contains("probability", steps.Output.Split('\n').Select(l => l.Trim()));
    }

    private static int[] Ints(JsonElement array) => array.EnumerateArray().Select(x => x.GetInt32()).ToArray();

    private static string[] Strings(JsonElement array) => array.EnumerateArray().Select(x => x.GetString()!).ToArray();
}
