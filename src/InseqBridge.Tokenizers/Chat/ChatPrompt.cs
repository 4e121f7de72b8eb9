namespace InseqBridge.Tokenizers.Chat;

/// <summary>
/// Turns a user's text (and an optional system prompt) into the prompt a chat model expects, through the checkpoint's
/// chat template with the assistant's turn opened (<c>add_generation_prompt</c>). The result is attributed as plain
/// input text; when the template already starts with the BOS token that the tokenizer adds again, the duplicate is
/// dropped, as Inseq 0.7 does when it encodes a chat prompt (two leading BOS ids become one).
/// </summary>
public static class ChatPrompt
{
    /// <summary>Renders <paramref name="userText"/> as one user turn after an optional system turn.</summary>
    /// <param name="template">The checkpoint's chat template (<see cref="ChatTemplate.Load"/>).</param>
    /// <param name="tokenizer">The checkpoint's tokenizer, used to detect a BOS token added twice.</param>
    /// <param name="userText">The user's message.</param>
    /// <param name="systemPrompt">The system message, or <c>null</c> for none.</param>
    /// <exception cref="ChatTemplateException">The template failed or refused the conversation (e.g. templates that
    /// accept no system role).</exception>
    public static string Render(ChatTemplate template, IHfTokenizer tokenizer, string userText, string? systemPrompt = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(userText);
        var messages = new List<ChatMessage>();
        if (systemPrompt is not null)
        {
            messages.Add(new ChatMessage("system", systemPrompt));
        }

        messages.Add(new ChatMessage("user", userText));
        string rendered = template.Render(messages, new ChatRenderOptions { AddGenerationPrompt = true });
        return DropDuplicatedBos(rendered, tokenizer);
    }

    /// <summary>Removes a leading BOS token text from <paramref name="text"/> when encoding it with special tokens
    /// would otherwise start with the BOS id twice.</summary>
    public static string DropDuplicatedBos(string text, IHfTokenizer tokenizer)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(tokenizer);
        if (tokenizer.Special.Bos is not { } bos || !text.StartsWith(bos.Token, StringComparison.Ordinal))
        {
            return text;
        }

        IReadOnlyList<int> ids = tokenizer.Encode(text, addSpecialTokens: true);
        return ids.Count >= 2 && ids[0] == bos.Id && ids[1] == bos.Id ? text[bos.Token.Length..] : text;
    }
}
