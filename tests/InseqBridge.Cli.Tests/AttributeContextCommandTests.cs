using System.Text.Json.Nodes;
using InseqBridge.Attribution.Context;
using InseqBridge.Serialization;
using InseqBridge.Native.Tests.Attribution;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>inseq-bridge attribute-context</c>: Inseq's options, its saved file and console text, typed errors.</summary>
public class AttributeContextCommandTests
{
    private static string Gpt2 => Path.Combine(Fixtures.ParityDir, "models", "gpt2");

    private static string[] DefaultCase(params string[] extra) =>
    [
        "attribute-context", "--model", Gpt2, "--tokenizer-kwargs", "{\"use_fast\": false}",
        "--input-context-text", "The cat sat on the mat and looked at the dog.", "--input-current-text", "Then it was",
        "--output-current-text", "very happy with the dog today", .. extra,
    ];

    [Fact]
    public void SavesWhatInseqSavesAndPrintsItsReport()
    {
        using var dir = new TemporaryFolder();
        string save = dir.File("out.json");
        string html = dir.File("out.html");
        CliResult r = CliRunner.Run(DefaultCase("--save", save, "--html", html, "--show",
            "--special-tokens-to-keep", "<|endoftext|>", "--special-tokens-to-keep", "<brk>"));
        Assert.True(r.ExitCode == 0, r.ToString());

        var reference = AttributeContextJson.Load(Path.Combine(ContextAttributionParityTests.ReferenceDir, "gpt2__kl__forced__default.json"));
        var actual = AttributeContextJson.Load(save);
        Assert.Equal(reference.OutputCurrentTokens, actual.OutputCurrentTokens);
        Assert.Equal(reference.CciScores.Select(c => c.CtiIdx), actual.CciScores.Select(c => c.CtiIdx));
        Assert.Equal(reference.CtiScores!.Count, actual.CtiScores!.Count);

        // info: Inseq's keys in Inseq's order; only the paths, the list given and show_viz differ from the reference run.
        JsonObject expectedInfo = (JsonObject)reference.Info!.DeepClone();
        expectedInfo["save_path"] = save;
        expectedInfo["viz_path"] = html;
        expectedInfo["show_viz"] = true;
        expectedInfo["model_name_or_path"] = Gpt2;
        expectedInfo["special_tokens_to_keep"] = new JsonArray("<|endoftext|>", "<brk>");
        Assert.Equal(expectedInfo.Select(kv => kv.Key), actual.Info!.Select(kv => kv.Key));
        Assert.True(JsonNode.DeepEquals(expectedInfo, actual.Info), actual.Info!.ToJsonString());

        // The report printed is Inseq's console text (captured output: plain text).
        string console = ContextFixturesText("gpt2__kl__forced__default");
        Assert.Contains(console.TrimEnd('\n'), r.Output.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
        string page = File.ReadAllText(html);
        Assert.Contains("<span class=\"sensitive\"> the(0.008)</span>", page, StringComparison.Ordinal);
    }

    [Fact]
    public void RunsOnASentencePieceCheckpointWithBosAndATemplate()
    {
        // Gemma (Llama-family sentencepiece tokenizer that adds <bos>), a template, a newline separator, in_context_pvi
        // with a contrastive attributed function: the CLI saves what Inseq saved and prints what it printed.
        const string id = "gemma__pvi__template_separator__cpd_fn";
        string gemma = Path.Combine(Fixtures.ParityRealDir, "models", "gemma");
        using var dir = new TemporaryFolder();
        string save = dir.File("out.json");
        CliResult r = CliRunner.Run(
            "attribute-context", "--model", gemma, "--tokenizer-kwargs", "{\"use_fast\": false}",
            "--input-context-text", "Paris is in France.", "--input-current-text", "Where is Paris?", "--input-template", "{context} | {current}",
            "--decoder-input-output-separator", "\n", "--output-current-text", "It is in France", "--context-sensitivity-metric", "in_context_pvi",
            "--context-sensitivity-std-threshold", "0", "--attributed-fn", "contrast_prob_diff", "--attribution-std-threshold", "0",
            "--attribution-topk", "2", "--save", save, "--show");
        Assert.True(r.ExitCode == 0, r.ToString());

        var reference = AttributeContextJson.Load(Path.Combine(ContextAttributionParityTests.ReferenceDir, id + ".json"));
        var actual = AttributeContextJson.Load(save);
        Assert.Equal(reference.InputContextTokens, actual.InputContextTokens);
        Assert.Equal(reference.OutputCurrentTokens, actual.OutputCurrentTokens);
        Assert.Equal(reference.CciScores.Select(c => (c.CtiIdx, c.CtiToken)), actual.CciScores.Select(c => (c.CtiIdx, c.CtiToken)));
        for (int i = 0; i < reference.CtiScores!.Count; i++)
        {
            Assert.Equal(reference.CtiScores[i], actual.CtiScores![i], 5e-6);
        }

        for (int i = 0; i < reference.CciScores.Count; i++)
        {
            Assert.Equal(reference.CciScores[i].ContextualOutput, actual.CciScores[i].ContextualOutput);
            Assert.Equal(reference.CciScores[i].ContextlessOutput, actual.CciScores[i].ContextlessOutput);
        }

        JsonObject expectedInfo = (JsonObject)reference.Info!.DeepClone();
        expectedInfo["save_path"] = save;
        expectedInfo["show_viz"] = true;
        expectedInfo["model_name_or_path"] = gemma;
        Assert.True(JsonNode.DeepEquals(expectedInfo, actual.Info), actual.Info!.ToJsonString());
        Assert.Contains(ContextFixturesText(id).TrimEnd('\n'), r.Output.Replace("\r\n", "\n", StringComparison.Ordinal), StringComparison.Ordinal);
    }

    private static string ContextFixturesText(string id)
    {
        var manifest = (JsonObject)JsonNode.Parse(File.ReadAllText(Path.Combine(ContextAttributionParityTests.ReferenceDir, "manifest.json")))!;
        return manifest["cases"]![id]!["console"]!.GetValue<string>();
    }

    [Fact]
    public void HelpListsInseqsOptions()
    {
        CliResult r = CliRunner.Run("attribute-context", "--help");
        Assert.Equal(0, r.ExitCode);
        foreach (string option in new[]
        {
            "--model", "--input-current-text", "--input-context-text", "--input-template", "--output-context-text", "--output-current-text",
            "--output-template", "--contextless-input-current-text", "--contextless-output-current-text", "--context-sensitivity-metric",
            "--handle-output-context-strategy", "--contextless-output-next-tokens", "--special-tokens-to-keep", "--decoder-input-output-separator",
            "--context-sensitivity-std-threshold", "--context-sensitivity-topk", "--attribution-std-threshold", "--attribution-topk",
            "--attributed-fn", "--attribution-method", "--attribution-kwargs", "--generation-kwargs", "--tokenizer-kwargs",
            "--normalize-attributions", "--no-add-output-info", "--save", "--html", "--show", "--show-intermediate-outputs",
            "--prompt-user-for-contextless-output-next-tokens",
        })
        {
            Assert.Contains(option, r.Output, StringComparison.Ordinal);
        }

        Assert.Contains("attribute-context", CliRunner.Run("--help").Output, StringComparison.Ordinal);
    }

    public static TheoryData<string[], int, string> BadInvocations() => new()
    {
        { ["attribute-context", "--model", "m"], 2, "--input-current-text" },
        { DefaultCase("--input-template", "{context} no current"), 1, "has no {current} placeholder" },
        { ["attribute-context", "--model", "m", "--input-current-text", "x", "--input-template", "{context} {current}"], 1, "no input context text" },
        { DefaultCase("--output-template", "{context} {current}", "--handle-output-context-strategy", "pre"), 1, "needs --output-context-text" },
        { DefaultCase("--output-template", "{current} {context}", "--output-context-text", "c"), 1, "must come before {current}" },
        { DefaultCase("--context-sensitivity-metric", "probability"), 2, "probability" },
        { DefaultCase("--handle-output-context-strategy", "sometimes"), 2, "sometimes" },
        { ["attribute-context", "--model", "m", "--input-current-text", "x", "--tokenizer-kwargs", "{\"tgt_lang\": \"fr\"}"], 2, "supported: use_fast" },
        { DefaultCase("--attribution-kwargs", "[1, 2]"), 2, "--attribution-kwargs must be a JSON object" },
        { DefaultCase("--generation-kwargs", "{not json"), 2, "--generation-kwargs is not valid JSON" },
        { DefaultCase("--generation-kwargs", "{\"beams\": 2}"), 1, "unsupported generation argument" },
        { DefaultCase("--attribution-method", "no_such_method"), 1, "no_such_method" },
        { DefaultCase("--context-sensitivity-topk", "-1"), 2, "0 or more" },
        { DefaultCase("--prompt-user-for-contextless-output-next-tokens"), 2, "interactive terminal" },
    };

    [Theory]
    [MemberData(nameof(BadInvocations))]
    public void BadInputGivesOneLineErrors(string[] args, int exitCode, string expected)
    {
        CliResult r = CliRunner.Run(args);
        Assert.True(r.ExitCode == exitCode, r.ToString());
        string first = r.Error.Split('\n')[0];
        Assert.StartsWith("error: ", first, StringComparison.Ordinal);
        Assert.Contains(expected, first, StringComparison.Ordinal);
        Assert.DoesNotContain("Exception", r.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ManualOutputContextWithoutATerminalTellsWhatToPass()
    {
        // The model must split a generated output into context and current, which `manual` asks the user: no terminal here.
        CliResult r = CliRunner.Run("attribute-context", "--model", Gpt2, "--tokenizer-kwargs", "{\"use_fast\": false}",
            "--input-current-text", "Hello there", "--output-template", "{context} | {current}", "--generation-kwargs", "{\"max_new_tokens\": 3}");
        Assert.True(r.ExitCode == 1, r.ToString());
        Assert.StartsWith("error: ", r.Error, StringComparison.Ordinal);
        Assert.Contains("--output-context-text", r.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void ExistingSaveTargetIsRefusedBeforeTheModelLoads()
    {
        using var dir = new TemporaryFolder();
        string save = dir.File("out.json");
        File.WriteAllText(save, "keep");
        CliResult r = CliRunner.Run(["attribute-context", "--model", "no-such-model", "--input-current-text", "x", "--save", save]);
        Assert.Equal(1, r.ExitCode);
        Assert.Contains("already exists", r.Error, StringComparison.Ordinal);
        Assert.Equal("keep", File.ReadAllText(save));
    }

    [Fact]
    public void NoOutputInfoLeavesInfoOutButStillPrintsTheReport()
    {
        using var dir = new TemporaryFolder();
        string save = dir.File("out.json");
        CliResult r = CliRunner.Run(DefaultCase("--save", save, "--no-add-output-info", "--show", "--contextless-output-next-tokens", "sad",
            "--attributed-fn", "contrast_prob_diff", "--attribution-method", "input_x_gradient", "--show-intermediate-outputs"));
        Assert.True(r.ExitCode == 0, r.ToString());
        AttributeContextOutput output = AttributeContextJson.Load(save);
        Assert.Null(output.Info);
        CciOutput cci = Assert.Single(output.CciScores);
        // Inseq forces the first token of the given word after the contextual prefix.
        Assert.StartsWith("very happy with", cci.ContextlessOutput, StringComparison.Ordinal);
        Assert.NotEqual("very happy with the", cci.ContextlessOutput);
        Assert.Contains("Generated output (CTI >", r.Output, StringComparison.Ordinal);
        Assert.Contains("Contextual cues imputation (CCI):", r.Output, StringComparison.Ordinal);
    }
}
