using System.CommandLine;
using System.Text.Json;
using InseqBridge.Tokenizers.Chat;

namespace InseqBridge.Cli.Commands;

/// <summary><c>render-chat</c>: prints a conversation rendered through a checkpoint's chat template.</summary>
public static class RenderChatCommand
{
    /// <summary>Largest messages file read (bytes).</summary>
    public const long MaxMessagesBytes = 16L << 20;

    /// <summary>Creates the command.</summary>
    public static Command Create()
    {
        Option<string> model = CommonOptions.Model();
        model.Description = "Checkpoint or tokenizer folder with a chat template (tokenizer_config.json, chat_template.jinja or chat_template.json).";
        var messages = new Option<string>("--messages")
        {
            Description = "JSON file with a list of {\"role\": ..., \"content\": ...} messages.",
            Required = true,
            HelpName = "FILE",
        };
        var addGenerationPrompt = new Option<bool>("--add-generation-prompt") { Description = "Open the assistant's turn after the messages." };
        var templateName = new Option<string?>("--template-name") { Description = "Named template to use when the folder has several (default: 'default').", HelpName = "NAME" };
        var command = new Command("render-chat", "Render messages through a checkpoint's chat template, as transformers' apply_chat_template(tokenize=False) does.")
        {
            model, messages, addGenerationPrompt, templateName,
        };
        command.SetAction(parseResult =>
        {
            ChatTemplate template = ChatTemplate.Load(parseResult.GetValue(model)!, parseResult.GetValue(templateName));
            using JsonDocument document = ReadMessages(parseResult.GetValue(messages)!);
            string rendered = template.Render(document.RootElement, new ChatRenderOptions { AddGenerationPrompt = parseResult.GetValue(addGenerationPrompt) });
            parseResult.InvocationConfiguration.Output.Write(rendered);
            return ExitCodes.Success;
        });
        return command;
    }

    private static JsonDocument ReadMessages(string path)
    {
        var info = new FileInfo(path);
        if (!info.Exists)
        {
            throw new CliUsageException($"messages file not found: {path}");
        }

        if (info.Length > MaxMessagesBytes)
        {
            throw new CliUsageException($"{path} is {info.Length} bytes, more than the {MaxMessagesBytes} accepted for a messages file.");
        }

        try
        {
            return JsonDocument.Parse(File.ReadAllText(path), new JsonDocumentOptions { MaxDepth = 64 });
        }
        catch (JsonException e)
        {
            throw new CliUsageException($"{path} is not valid JSON (line {e.LineNumber + 1}): give a JSON list of {{\"role\": ..., \"content\": ...}} messages.");
        }
    }
}
