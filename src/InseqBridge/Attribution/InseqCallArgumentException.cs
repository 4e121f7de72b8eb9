using InseqBridge.Errors;

namespace InseqBridge.Attribution;

/// <summary>
/// A recorded Inseq call (the keyword arguments of <c>model.attribute</c>) has an argument the typed request cannot
/// take: a key no part of the call reads, or a value of the wrong kind. <see cref="Key"/> names the argument.
/// </summary>
public sealed class InseqCallArgumentException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="key">The keyword argument at fault.</param>
    /// <param name="message">One line naming the argument and the fix.</param>
    public InseqCallArgumentException(string key, string message) : base(message) => Key = key;

    /// <summary>The keyword argument at fault (e.g. <c>n_sample</c>, <c>generation_args.num_beam</c>).</summary>
    public string Key { get; }
}
