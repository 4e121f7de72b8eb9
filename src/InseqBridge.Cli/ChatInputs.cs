using InseqBridge.Tokenizers;
using InseqBridge.Tokenizers.Chat;
using InseqBridge.Native.Checkpoints;

namespace InseqBridge.Cli;

/// <summary><c>--chat</c>: inputs rendered through the checkpoint's chat template before attribution.</summary>
public static class ChatInputs
{
    /// <summary>Renders every input as a user turn (after <paramref name="systemPrompt"/>); for a decoder-only model the
    /// forced outputs (the assistant's replies) are prefixed with the rendered prompt, as Inseq expects generated
    /// texts of decoder-only models to start with their input.</summary>
    public static (string[] Inputs, string[]? Forced) Render(string modelDir, string[] inputs, string[]? forced, string? systemPrompt)
    {
        ChatTemplate template = ChatTemplate.Load(modelDir);
        IHfTokenizer tokenizer = ProbeModel.LoadTokenizer(modelDir);
        string[] rendered = inputs.Select(text => ChatPrompt.Render(template, tokenizer, text, systemPrompt)).ToArray();
        if (forced is null)
        {
            return (rendered, null);
        }

        bool encoderDecoder = ModelConfig.Load(modelDir).IsEncoderDecoder;
        string[] outputs = forced.Select((reply, i) => encoderDecoder || i >= rendered.Length ? reply : rendered[i] + reply).ToArray();
        return (rendered, outputs);
    }
}
