using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Native;
using InseqBridge.Native.Tests;

namespace InseqBridge.Cli.Tests;

/// <summary><c>render-chat</c> and <c>attribute --chat</c>: rendering checked against Python Jinja2's output for the
/// same template and messages (tests/fixtures/chat-templates/oracle-jinja2.jsonl).</summary>
public sealed class ChatCommandTests
{
    private static readonly string ChatFixtures = Path.Combine(Fixtures.RepositoryRoot, "tests", "fixtures", "chat-templates");

    private static (string Template, JsonElement Case, string? Expected) OracleCase(string id)
    {
        JsonElement spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(ChatFixtures, "cases.json"))).RootElement;
        JsonElement testCase = spec.GetProperty("cases").EnumerateArray().Single(c => c.GetProperty("id").GetString() == id);
        string template = spec.GetProperty("templates").GetProperty(testCase.GetProperty("template").GetString()!).GetString()!;
        JsonElement row = File.ReadLines(Path.Combine(ChatFixtures, "oracle-jinja2.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Single(row => row.GetProperty("id").GetString() == id);
        string? expected = row.TryGetProperty("output", out JsonElement output) ? output.GetString() : null;
        return (template, testCase, expected);
    }

    [Theory]
    [InlineData("llama3_1__system_multi__gen")]
    [InlineData("qwen3__think__nogen")]
    [InlineData("gemma3__parts__gen")]
    public void Render_chat_prints_what_python_renders(string id)
    {
        (string template, JsonElement testCase, string? expected) = OracleCase(id);
        Assert.NotNull(expected);
        using var folder = new TemporaryFolder();
        var config = new JsonObject { ["chat_template"] = template };
        foreach (JsonProperty token in testCase.GetProperty("variables").EnumerateObject())
        {
            config[token.Name] = token.Value.GetString();
        }

        File.WriteAllText(folder.File("tokenizer_config.json"), config.ToJsonString());
        File.WriteAllText(folder.File("messages.json"), testCase.GetProperty("messages").GetRawText());
        var args = new List<string> { "render-chat", "--model", folder.Path, "--messages", folder.File("messages.json") };
        if (testCase.GetProperty("add_generation_prompt").GetBoolean())
        {
            args.Add("--add-generation-prompt");
        }

        CliResult result = CliRunner.Run([.. args]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal(expected, result.Output);
    }

    [Fact]
    public void Render_chat_reports_bad_messages_and_missing_templates_in_one_line()
    {
        using var folder = new TemporaryFolder();
        File.WriteAllText(folder.File("tokenizer_config.json"), """{"chat_template": "{% for m in messages %}{{ m.content }}{% endfor %}"}""");
        File.WriteAllText(folder.File("bad.json"), "[{\"role\": ");
        CliResult badJson = CliRunner.Run("render-chat", "--model", folder.Path, "--messages", folder.File("bad.json"));
        Assert.Equal(2, badJson.ExitCode);
        Assert.Contains("not valid JSON", badJson.Error, StringComparison.Ordinal);

        File.WriteAllText(folder.File("norole.json"), """[{"content": "hi"}]""");
        CliResult noRole = CliRunner.Run("render-chat", "--model", folder.Path, "--messages", folder.File("norole.json"));
        Assert.Equal(1, noRole.ExitCode);
        Assert.Contains("message 1", noRole.Error, StringComparison.Ordinal);

        using var empty = new TemporaryFolder();
        File.WriteAllText(empty.File("messages.json"), """[{"role": "user", "content": "hi"}]""");
        CliResult noTemplate = CliRunner.Run("render-chat", "--model", empty.Path, "--messages", empty.File("messages.json"));
        Assert.Equal(1, noTemplate.ExitCode);
        Assert.Contains("has no chat template", noTemplate.Error, StringComparison.Ordinal);
        foreach (CliResult r in new[] { badJson, noRole, noTemplate })
        {
            Assert.DoesNotContain("   at ", r.Error, StringComparison.Ordinal);
            Assert.DoesNotContain("Exception", r.Error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Render_chat_reports_what_the_template_raises()
    {
        using var folder = new TemporaryFolder();
        (string template, JsonElement testCase, _) = OracleCase("inst__bad_order__nogen");
        File.WriteAllText(folder.File("tokenizer_config.json"), new JsonObject { ["chat_template"] = template, ["bos_token"] = "<s>", ["eos_token"] = "</s>" }.ToJsonString());
        File.WriteAllText(folder.File("messages.json"), testCase.GetProperty("messages").GetRawText());
        CliResult result = CliRunner.Run("render-chat", "--model", folder.Path, "--messages", folder.File("messages.json"));
        Assert.Equal(1, result.ExitCode);
        Assert.Contains("the chat template refused the messages: After the optional system message, conversation roles must alternate", result.Error, StringComparison.Ordinal);
    }

    /// <summary>A copy of the tiny Llama fixture whose (GPT-2) tokenizer adds a BOS token and whose chat template
    /// starts with one too, the situation Inseq 0.7 handles by dropping the duplicate.</summary>
    private static TemporaryFolder ChatLlama()
    {
        var folder = new TemporaryFolder();
        foreach (string file in Directory.GetFiles(Fixtures.ModelDir("llama")))
        {
            File.Copy(file, folder.File(Path.GetFileName(file)));
        }

        JsonObject config = JsonNode.Parse(File.ReadAllText(folder.File("tokenizer_config.json")))!.AsObject();
        config["add_bos_token"] = true;
        File.WriteAllText(folder.File("tokenizer_config.json"), config.ToJsonString());
        File.WriteAllText(folder.File("chat_template.jinja"),
            "{{ bos_token }}{% for m in messages %}<{{ m.role }}> {{ m.content | trim }}\n{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}");
        return folder;
    }

    [Fact]
    public void Attribute_chat_attributes_the_rendered_prompt_with_one_bos()
    {
        using TemporaryFolder model = ChatLlama();
        using var outputs = new TemporaryFolder();
        CliResult chat = CliRunner.Run("attribute", "--model", model.Path, "--method", "saliency", "--input", " Hello there ",
            "--system-prompt", "Be brief.", "--chat", "--generated", " Hi", "--save", outputs.File("chat.json"));
        Assert.True(chat.ExitCode == 0, chat.ToString());
        // The same attribution with the rendered text given directly (the BOS the tokenizer adds, not the template's).
        string rendered = "<system> Be brief.\n<user> Hello there\n<assistant>";
        CliResult plain = CliRunner.Run("attribute", "--model", model.Path, "--method", "saliency", "--input", rendered,
            "--generated", rendered + " Hi", "--save", outputs.File("plain.json"));
        Assert.True(plain.ExitCode == 0, plain.ToString());

        JsonNode chatJson = JsonNode.Parse(File.ReadAllText(outputs.File("chat.json")))!;
        JsonNode plainJson = JsonNode.Parse(File.ReadAllText(outputs.File("plain.json")))!;
        JsonNode Sequence(JsonNode root) => root["attributes"]!["sequence_attributions"]![0]!["attributes"]!;
        string Tokens(JsonNode root, string key) => Sequence(root)[key]!.ToJsonString();
        Assert.Equal(Tokens(plainJson, "source"), Tokens(chatJson, "source"));
        Assert.Equal(Tokens(plainJson, "target"), Tokens(chatJson, "target"));
        // The template's BOS was dropped because the tokenizer adds one (ids would start with BOS twice otherwise).
        Assert.Equal(rendered, chatJson["attributes"]!["info"]!["input_texts"]![0]!.GetValue<string>());
        float[] chatScores = InseqBridge.Data.FeatureAttributionOutput.Load(outputs.File("chat.json")).SequenceAttributions[0].TargetAttributions!.ToArray();
        float[] plainScores = InseqBridge.Data.FeatureAttributionOutput.Load(outputs.File("plain.json")).SequenceAttributions[0].TargetAttributions!.ToArray();
        Assert.Equal(plainScores.Length, chatScores.Length);
        float scale = plainScores.Max(Math.Abs);
        // Same inputs, same numbers up to float32 reduction order (libtorch threads): the parity suite's tolerance.
        Assert.All(plainScores.Zip(chatScores), p => Assert.True(Math.Abs(p.First - p.Second) <= (1e-5f * Math.Abs(p.First)) + (1e-5f * scale), $"{p.First} vs {p.Second}"));
    }

    [Fact]
    public void System_prompt_needs_chat_and_chat_needs_a_template()
    {
        CliResult noChat = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("llama"), "--method", "saliency", "--input", "x", "--system-prompt", "s");
        Assert.Equal(2, noChat.ExitCode);
        Assert.Contains("--system-prompt needs --chat", noChat.Error, StringComparison.Ordinal);
        CliResult noTemplate = CliRunner.Run("attribute", "--model", Fixtures.ModelDir("llama"), "--method", "saliency", "--input", "x", "--chat");
        Assert.Equal(1, noTemplate.ExitCode);
        Assert.Contains("has no chat template", noTemplate.Error, StringComparison.Ordinal);
    }
}
