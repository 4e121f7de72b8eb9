namespace InseqBridge.Attribution;

/// <summary>The type of a method or step function argument, as given on the command line (<c>K=V</c>).</summary>
public enum ArgumentKind
{
    /// <summary>A whole number (<c>int</c>).</summary>
    Integer,

    /// <summary>A real number (<c>float</c>).</summary>
    Number,

    /// <summary><c>true</c> or <c>false</c> (also <c>1</c>/<c>0</c>, <c>yes</c>/<c>no</c>).</summary>
    Boolean,

    /// <summary>Free text (a path, a head selection, a window shape).</summary>
    Text,

    /// <summary>One of a fixed list of names (<see cref="ArgumentSpec.AllowedValues"/>).</summary>
    Choice,
}
