namespace InseqBridge.Errors;

/// <summary>Base class of every error InseqBridge raises on purpose. The message names the problem and the fix.</summary>
public class InseqBridgeException : Exception
{
    /// <summary>Creates the exception.</summary>
    public InseqBridgeException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>A checkpoint folder is missing a file, or a file in it is corrupt.</summary>
public sealed class CheckpointException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    public CheckpointException(string message, Exception? inner = null) : base(message, inner) { }
}

/// <summary>The checkpoint's <c>model_type</c> (or architecture) is not implemented by the native backend.</summary>
public sealed class UnsupportedModelException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    public UnsupportedModelException(string message) : base(message) { }
}

/// <summary>An input is invalid for the model: empty, longer than its context, or inconsistent with other inputs.</summary>
public sealed class InvalidInputException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    public InvalidInputException(string message) : base(message) { }
}

/// <summary>An attribution request is invalid: unknown method or step function, unsupported option, bad positions.</summary>
public sealed class InvalidRequestException : InseqBridgeException
{
    /// <summary>Creates the exception.</summary>
    public InvalidRequestException(string message) : base(message) { }
}
