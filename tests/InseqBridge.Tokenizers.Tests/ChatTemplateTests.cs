using System.Text.Json;
using InseqBridge.Tokenizers.Chat;

namespace InseqBridge.Tokenizers.Tests;

/// <summary>
/// The chat-template engine against two references on the same cases (tests/fixtures/chat-templates/cases.json: the
/// real templates of Llama 3.1, Qwen3 and Gemma 3 plus templates written for the edge cases, times conversations):
/// Python Jinja2 configured as transformers configures it (oracle-jinja2.jsonl, made by
/// scripts/chat_template_oracle.py), which is what a Python user's <c>apply_chat_template</c> runs, and the Hugging
/// Face JavaScript engine @huggingface/jinja (oracle.jsonl, made by scripts/chat_template_oracle.js).
/// </summary>
public sealed class ChatTemplateTests
{
    private static readonly Lazy<Fixture> Cases = new(Fixture.Load);

    public static TheoryData<string> CaseIds()
    {
        var data = new TheoryData<string>();
        foreach (string id in Cases.Value.Cases.Keys)
        {
            data.Add(id);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(CaseIds))]
    public void Renders_exactly_as_python_jinja2(string id)
    {
        Fixture fixture = Cases.Value;
        JsonElement testCase = fixture.Cases[id];
        JsonElement expected = fixture.Jinja2[id];
        if (expected.TryGetProperty("error", out JsonElement error))
        {
            ChatTemplateRaisedException raised = Assert.Throws<ChatTemplateRaisedException>(() => fixture.Render(testCase));
            Assert.Equal(error.GetString(), "TemplateRaised: " + raised.TemplateMessage);
            return;
        }

        Assert.Equal(expected.GetProperty("output").GetString(), fixture.Render(testCase));
    }

    [Fact]
    public void Agrees_with_huggingface_jinja_wherever_that_engine_renders()
    {
        Fixture fixture = Cases.Value;
        int compared = 0;
        var differences = new List<string>();
        foreach ((string id, JsonElement testCase) in fixture.Cases)
        {
            JsonElement reference = fixture.HuggingFace[id];
            if (!reference.TryGetProperty("output", out JsonElement output))
            {
                continue;
            }

            compared++;
            if (output.GetString() != fixture.Render(testCase))
            {
                differences.Add(id);
            }
        }

        // @huggingface/jinja 0.5.11 strips any whitespace in str.lstrip('\n') (Python strips only the given
        // characters); Qwen3's template calls it on the assistant's content, so these two cases differ and we follow
        // Python (what transformers runs).
        Assert.True(compared >= 140, $"only {compared} cases rendered by @huggingface/jinja");
        Assert.Equal(["qwen3__whitespace__gen", "qwen3__whitespace__nogen"], differences.Order().ToArray());
    }

    [Fact]
    public void Loads_the_template_of_a_tokenizer_folder_with_its_special_tokens()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), """
            {"bos_token": {"content": "<|begin|>", "special": true}, "eos_token": "<|end|>",
             "chat_template": "{{ bos_token }}{% for m in messages %}{{ m.role }}:{{ m.content }}{{ eos_token }}{% endfor %}"}
            """);
        ChatTemplate template = ChatTemplate.Load(folder.Path);
        Assert.Equal("<|begin|>user:hi<|end|>", template.Render([new ChatMessage("user", "hi")]));
    }

    [Fact]
    public void Prefers_chat_template_jinja_then_json_then_tokenizer_config()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), """{"chat_template": "config"}""");
        Assert.Equal("config", ChatTemplate.Load(folder.Path).Render([]));
        File.WriteAllText(Path.Combine(folder.Path, "chat_template.json"), """{"chat_template": "json"}""");
        Assert.Equal("json", ChatTemplate.Load(folder.Path).Render([]));
        File.WriteAllText(Path.Combine(folder.Path, "chat_template.jinja"), "jinja\n");
        Assert.Equal("jinja", ChatTemplate.Load(folder.Path).Render([]));
    }

    [Fact]
    public void Named_templates_pick_default_or_the_requested_name()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), """
            {"chat_template": [{"name": "default", "template": "D"}, {"name": "tool_use", "template": "T"}]}
            """);
        Assert.Equal("D", ChatTemplate.Load(folder.Path).Render([]));
        Assert.Equal("T", ChatTemplate.Load(folder.Path, "tool_use").Render([]));
        ChatTemplateException missing = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Load(folder.Path, "rag"));
        Assert.Contains("no chat template named 'rag'", missing.Message, StringComparison.Ordinal);
        Assert.Contains("default, tool_use", missing.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_folder_without_template_says_so_and_what_to_do()
    {
        using var folder = new TempFolder();
        File.WriteAllText(Path.Combine(folder.Path, "tokenizer_config.json"), """{"bos_token": "<s>"}""");
        ChatTemplateException e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Load(folder.Path));
        Assert.Contains("has no chat template", e.Message, StringComparison.Ordinal);
        Assert.Contains("without --chat", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("{% if x %}never closed", "ends before '{% endif %}'")]
    [InlineData("{{ 'unterminated }}", "never closed")]
    [InlineData("line one\n{% endfor %}", "line 2")]
    [InlineData("{% frobnicate %}", "unknown statement 'frobnicate'")]
    [InlineData("{{ x | nosuchfilter }}", "unknown filter 'nosuchfilter'")]
    [InlineData("{{ x is nosuchtest }}", "unknown test 'nosuchtest'")]
    [InlineData("{{ messages.append(1) }}", "immutable")]
    [InlineData("{{ missing.attribute }}", "'missing' is undefined")]
    [InlineData("{{ 1 + 'a' }}", "unsupported operands for '+': int and string")]
    [InlineData("{% for i in range(100000000) %}{% endfor %}", "would exceed")]
    [InlineData("{{ 'x' * 100000000 }}", "would exceed")]
    [InlineData("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recurses more than 100 levels")]
    public void Bad_templates_fail_with_a_message_naming_the_problem(string source, string expected)
    {
        ChatTemplateException e = Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(source).Render([]));
        Assert.Contains(expected, e.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("System.", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Hostile_nesting_is_refused_without_exhausting_the_stack()
    {
        string deepExpression = "{{ " + new string('(', 100_000) + "1" + new string(')', 100_000) + " }}";
        Assert.Contains("nesting deeper", Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(deepExpression)).Message, StringComparison.Ordinal);
        string deepBlocks = string.Concat(Enumerable.Repeat("{% if true %}", 50_000));
        Assert.Contains("nesting deeper", Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(deepBlocks)).Message, StringComparison.Ordinal);
        string deepNot = "{{ " + string.Concat(Enumerable.Repeat("not ", 100_000)) + "x }}";
        Assert.Contains("nesting deeper", Assert.Throws<ChatTemplateException>(() => ChatTemplate.Parse(deepNot)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Messages_that_are_not_a_list_of_role_objects_are_refused()
    {
        ChatTemplate template = ChatTemplate.Parse("{{ messages|length }}");
        using JsonDocument notList = JsonDocument.Parse("""{"role": "user"}""");
        Assert.Contains("JSON list", Assert.Throws<ChatTemplateException>(() => template.Render(notList.RootElement)).Message, StringComparison.Ordinal);
        using JsonDocument noRole = JsonDocument.Parse("""[{"content": "x"}]""");
        Assert.Contains("message 1", Assert.Throws<ChatTemplateException>(() => template.Render(noRole.RootElement)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rendering_is_thread_safe()
    {
        Fixture fixture = Cases.Value;
        var expected = fixture.Cases.Where(c => fixture.Jinja2[c.Key].TryGetProperty("output", out _))
            .ToDictionary(c => c.Key, c => fixture.Jinja2[c.Key].GetProperty("output").GetString());
        Parallel.ForEach(Enumerable.Range(0, 8), _ =>
        {
            foreach ((string id, string? output) in expected)
            {
                Assert.Equal(output, fixture.Render(fixture.Cases[id]));
            }
        });
    }

    private sealed class Fixture
    {
        private readonly Dictionary<string, ChatTemplate> _templates = [];

        public Dictionary<string, JsonElement> Cases { get; } = [];

        public Dictionary<string, JsonElement> Jinja2 { get; } = [];

        public Dictionary<string, JsonElement> HuggingFace { get; } = [];

        public static Fixture Load()
        {
            string root = Path.Combine(FixturePaths.Root, "tests", "fixtures", "chat-templates");
            var fixture = new Fixture();
            JsonElement spec = JsonDocument.Parse(File.ReadAllText(Path.Combine(root, "cases.json"))).RootElement;
            foreach (JsonProperty template in spec.GetProperty("templates").EnumerateObject())
            {
                fixture._templates[template.Name] = ChatTemplate.Parse(template.Value.GetString()!);
            }

            foreach (JsonElement testCase in spec.GetProperty("cases").EnumerateArray())
            {
                fixture.Cases[testCase.GetProperty("id").GetString()!] = testCase;
            }

            ReadOracle(Path.Combine(root, "oracle-jinja2.jsonl"), fixture.Jinja2);
            ReadOracle(Path.Combine(root, "oracle.jsonl"), fixture.HuggingFace);
            return fixture;
        }

        private static void ReadOracle(string path, Dictionary<string, JsonElement> into)
        {
            foreach (string line in File.ReadLines(path).Where(l => l.Length > 0))
            {
                JsonElement row = JsonDocument.Parse(line).RootElement;
                into[row.GetProperty("id").GetString()!] = row;
            }
        }

        public string Render(JsonElement testCase)
        {
            ChatTemplate template = _templates[testCase.GetProperty("template").GetString()!];
            var variables = new Dictionary<string, object?>();
            foreach (JsonProperty variable in testCase.GetProperty("variables").EnumerateObject())
            {
                variables[variable.Name] = variable.Value;
            }

            return template.Render(testCase.GetProperty("messages"), new ChatRenderOptions
            {
                AddGenerationPrompt = testCase.GetProperty("add_generation_prompt").GetBoolean(),
                SpecialTokens = new Dictionary<string, string>(),
                Variables = variables,
            });
        }
    }

    private sealed class TempFolder : IDisposable
    {
        public TempFolder()
        {
            Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "inseqbridge-chat-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(Path);
        }

        public string Path { get; }

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
