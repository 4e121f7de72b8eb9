using System.Text.Json;

namespace InseqBridge.Tokenizers.Chat;

/// <summary>One message of a conversation: a role (<c>system</c>, <c>user</c>, <c>assistant</c>, ...) and its text.</summary>
/// <param name="Role">Who speaks.</param>
/// <param name="Content">What is said.</param>
public sealed record ChatMessage(string Role, string Content);

/// <summary>Options of <see cref="ChatTemplate.Render(IReadOnlyList{ChatMessage}, ChatRenderOptions?)"/>.</summary>
public sealed record ChatRenderOptions
{
    /// <summary>Append the tokens that open the assistant's turn (transformers' <c>add_generation_prompt</c>).</summary>
    public bool AddGenerationPrompt { get; init; }

    /// <summary>Special tokens passed to the template as variables (<c>bos_token</c>, <c>eos_token</c>, ...); by default
    /// those of the folder the template was read from.</summary>
    public IReadOnlyDictionary<string, string>? SpecialTokens { get; init; }

    /// <summary>Further template variables (transformers passes extra keyword arguments of
    /// <c>apply_chat_template</c> the same way, e.g. <c>enable_thinking</c>). Values: strings, numbers, booleans,
    /// lists, dictionaries or <see cref="JsonElement"/>s.</summary>
    public IReadOnlyDictionary<string, object?>? Variables { get; init; }
}

/// <summary>
/// A checkpoint's chat template (Jinja, as in <c>tokenizer_config.json</c>'s <c>chat_template</c>,
/// <c>chat_template.jinja</c> or <c>chat_template.json</c>), rendered as transformers' <c>apply_chat_template(...,
/// tokenize=False)</c> does. The Jinja engine implements the subset real chat templates use (statements
/// <c>if/for/set/macro/call/filter/break/continue</c>, namespaces, loops with <c>loop.*</c>, filters, tests, string and
/// dictionary methods, slicing, <c>raise_exception</c>, <c>strftime_now</c>) with the whitespace rules transformers
/// sets (<c>trim_blocks</c>, <c>lstrip_blocks</c>). Instances are immutable and thread-safe.
/// </summary>
public sealed class ChatTemplate
{
    /// <summary>Largest template or configuration file read (bytes).</summary>
    public const long MaxFileBytes = 64L << 20;

    private static readonly string[] SpecialTokenKeys =
        ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    private readonly IReadOnlyList<JinjaNode> _nodes;

    private ChatTemplate(string source, IReadOnlyList<JinjaNode> nodes, IReadOnlyDictionary<string, string> specialTokens, IReadOnlyList<string> additionalSpecialTokens)
    {
        Source = source;
        _nodes = nodes;
        SpecialTokens = specialTokens;
        AdditionalSpecialTokens = additionalSpecialTokens;
    }

    /// <summary>The template text.</summary>
    public string Source { get; }

    /// <summary>Special tokens of the folder the template came from (variables of the template).</summary>
    public IReadOnlyDictionary<string, string> SpecialTokens { get; }

    /// <summary>The folder's <c>additional_special_tokens</c>.</summary>
    public IReadOnlyList<string> AdditionalSpecialTokens { get; }

    /// <summary>Parses a template text.</summary>
    /// <exception cref="ChatTemplateException">The text is not a valid template; the message gives the line.</exception>
    public static ChatTemplate Parse(string source, IReadOnlyDictionary<string, string>? specialTokens = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        return new ChatTemplate(source, JinjaParser.Parse(source), specialTokens ?? new Dictionary<string, string>(), []);
    }

    /// <summary>Reads the chat template of a checkpoint or tokenizer folder, as transformers does:
    /// <c>chat_template.jinja</c>, else <c>chat_template.json</c>, else <c>tokenizer_config.json</c>'s
    /// <c>chat_template</c> (a text, or a list of named templates of which <paramref name="name"/> (default
    /// <c>default</c>) is taken).</summary>
    /// <exception cref="ChatTemplateException">The folder has no chat template, or it is malformed.</exception>
    public static ChatTemplate Load(string folder, string? name = null)
    {
        ArgumentNullException.ThrowIfNull(folder);
        if (!Directory.Exists(folder))
        {
            throw new ChatTemplateException($"model folder not found: {folder}. Pass the folder that holds tokenizer_config.json.");
        }

        string configPath = Path.Combine(folder, "tokenizer_config.json");
        using JsonDocument? config = File.Exists(configPath) ? ReadJson(configPath) : null;
        (Dictionary<string, string> special, List<string> additional) = ReadSpecialTokens(config?.RootElement, configPath);

        string? source = null;
        string jinjaPath = Path.Combine(folder, "chat_template.jinja");
        string jsonPath = Path.Combine(folder, "chat_template.json");
        if (File.Exists(jinjaPath))
        {
            source = ReadText(jinjaPath);
        }
        else if (File.Exists(jsonPath))
        {
            using JsonDocument document = ReadJson(jsonPath);
            if (document.RootElement.ValueKind == JsonValueKind.Object
                && document.RootElement.TryGetProperty("chat_template", out JsonElement value))
            {
                source = SelectTemplate(value, name, jsonPath);
            }
        }
        else if (config is not null
                 && config.RootElement.ValueKind == JsonValueKind.Object
                 && config.RootElement.TryGetProperty("chat_template", out JsonElement value)
                 && value.ValueKind != JsonValueKind.Null)
        {
            source = SelectTemplate(value, name, configPath);
        }

        if (source is null)
        {
            throw new ChatTemplateException(
                $"{folder} has no chat template (no chat_template.jinja, chat_template.json or 'chat_template' in tokenizer_config.json). "
                + "Use a chat (instruct) checkpoint, or pass the prompt as plain text without --chat.");
        }

        try
        {
            return new ChatTemplate(source, JinjaParser.Parse(source), special, additional);
        }
        catch (ChatTemplateException e)
        {
            throw new ChatTemplateException($"{folder}: {e.Message}", e);
        }
    }

    /// <summary>Whether <paramref name="folder"/> has a chat template.</summary>
    public static bool Exists(string folder)
    {
        try
        {
            _ = Load(folder);
            return true;
        }
        catch (ChatTemplateException)
        {
            return false;
        }
    }

    /// <summary>Renders a conversation.</summary>
    /// <exception cref="ChatTemplateException">The template failed, or refused the conversation
    /// (<see cref="ChatTemplateRaisedException"/>, e.g. roles that do not alternate).</exception>
    public string Render(IReadOnlyList<ChatMessage> messages, ChatRenderOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var list = new JinjaList();
        foreach (ChatMessage message in messages)
        {
            var dict = new JinjaDict();
            dict.Set("role", message.Role);
            dict.Set("content", message.Content);
            list.Add(dict);
        }

        return RenderValues(list, options);
    }

    /// <summary>Renders a conversation given as JSON: a list of objects with <c>role</c> and <c>content</c> (content
    /// may be a string or a list of parts, and messages may carry other keys such as <c>tool_calls</c>).</summary>
    /// <exception cref="ChatTemplateException">The JSON is not a list of messages, or the template failed.</exception>
    public string Render(JsonElement messages, ChatRenderOptions? options = null)
    {
        if (messages.ValueKind != JsonValueKind.Array)
        {
            throw new ChatTemplateException("the messages must be a JSON list of {\"role\": ..., \"content\": ...} objects.");
        }

        int index = 0;
        foreach (JsonElement message in messages.EnumerateArray())
        {
            if (message.ValueKind != JsonValueKind.Object || !message.TryGetProperty("role", out JsonElement role) || role.ValueKind != JsonValueKind.String)
            {
                throw new ChatTemplateException($"message {index + 1} is not an object with a string \"role\"; each message is {{\"role\": ..., \"content\": ...}}.");
            }

            index++;
        }

        return RenderValues((JinjaList)JinjaValues.FromJson(messages)!, options);
    }

    private string RenderValues(JinjaList messages, ChatRenderOptions? options)
    {
        var globals = new Dictionary<string, object?>(StringComparer.Ordinal);
        foreach ((string key, string value) in options?.SpecialTokens ?? SpecialTokens)
        {
            globals[key] = value;
        }

        if (options?.SpecialTokens is null && AdditionalSpecialTokens.Count > 0)
        {
            globals["additional_special_tokens"] = new JinjaList(AdditionalSpecialTokens.Select(t => (object?)t));
        }

        foreach ((string key, object? value) in options?.Variables ?? new Dictionary<string, object?>())
        {
            globals[key] = JinjaValues.FromObject(value);
        }

        globals["messages"] = messages;
        globals["add_generation_prompt"] = options?.AddGenerationPrompt ?? false;
        return new JinjaInterpreter(globals).Render(_nodes);
    }

    private static string SelectTemplate(JsonElement value, string? name, string path)
    {
        if (value.ValueKind == JsonValueKind.String)
        {
            return value.GetString()!;
        }

        if (value.ValueKind == JsonValueKind.Array)
        {
            var named = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (JsonElement item in value.EnumerateArray())
            {
                if (item.ValueKind == JsonValueKind.Object
                    && item.TryGetProperty("name", out JsonElement n) && n.ValueKind == JsonValueKind.String
                    && item.TryGetProperty("template", out JsonElement t) && t.ValueKind == JsonValueKind.String)
                {
                    named[n.GetString()!] = t.GetString()!;
                }
            }

            string wanted = name ?? "default";
            if (named.TryGetValue(wanted, out string? template))
            {
                return template;
            }

            throw new ChatTemplateException(
                $"{path} has no chat template named '{wanted}'; it has: {string.Join(", ", named.Keys)}. Pick one of these names.");
        }

        throw new ChatTemplateException($"{path}: 'chat_template' must be a text or a list of {{\"name\", \"template\"}} objects.");
    }

    private static (Dictionary<string, string> Special, List<string> Additional) ReadSpecialTokens(JsonElement? config, string path)
    {
        var special = new Dictionary<string, string>(StringComparer.Ordinal);
        var additional = new List<string>();
        if (config is not { ValueKind: JsonValueKind.Object } root)
        {
            return (special, additional);
        }

        foreach (string key in SpecialTokenKeys)
        {
            if (root.TryGetProperty(key, out JsonElement value) && TokenContent(value) is { } content)
            {
                special[key] = content;
            }
        }

        if (root.TryGetProperty("additional_special_tokens", out JsonElement extra) && extra.ValueKind == JsonValueKind.Array)
        {
            additional.AddRange(extra.EnumerateArray().Select(TokenContent).OfType<string>());
        }

        _ = path;
        return (special, additional);
    }

    private static string? TokenContent(JsonElement value) => value.ValueKind switch
    {
        JsonValueKind.String => value.GetString(),
        JsonValueKind.Object when value.TryGetProperty("content", out JsonElement content) && content.ValueKind == JsonValueKind.String => content.GetString(),
        _ => null,
    };

    private static string ReadText(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > MaxFileBytes)
        {
            throw new ChatTemplateException($"{path} is {info.Length} bytes, more than the {MaxFileBytes} accepted; check the file.");
        }

        return File.ReadAllText(path);
    }

    private static JsonDocument ReadJson(string path)
    {
        string text = ReadText(path);
        try
        {
            return JsonDocument.Parse(text, new JsonDocumentOptions { MaxDepth = 64, AllowTrailingCommas = true });
        }
        catch (JsonException e)
        {
            throw new ChatTemplateException($"{path} is not valid JSON (line {e.LineNumber + 1}); fix or replace the file.", e);
        }
    }
}
