using InseqBridge.Errors;

namespace InseqBridge.Native.Models;

/// <summary>Checks token ids against the model's embedding matrix before they reach libtorch, whose own error
/// ("index out of range in self") names neither the id nor the fix.</summary>
public static class TokenIdGuard
{
    /// <summary>Throws when an id is negative or has no embedding row.</summary>
    /// <param name="ids">Token ids.</param>
    /// <param name="model">The model whose embedding matrix the ids index.</param>
    /// <param name="source">Where the ids came from, for the message (e.g. "the tokenizer", "--decoder-input-ids").</param>
    /// <exception cref="InvalidInputException">An id is outside the vocabulary.</exception>
    public static void Check(IEnumerable<int> ids, TransformerLanguageModel model, string source)
    {
        ArgumentNullException.ThrowIfNull(ids);
        ArgumentNullException.ThrowIfNull(model);
        long rows = model.EmbeddingMatrix.shape[0];
        foreach (int id in ids)
        {
            if (id < 0 || id >= rows)
            {
                throw new InvalidInputException(
                    $"Token id {id} from {source} is outside the model's vocabulary (0..{rows - 1}): the tokenizer files and the weights do not belong together, or the id is mistyped.");
            }
        }
    }
}
