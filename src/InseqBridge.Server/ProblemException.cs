namespace InseqBridge.Server;

/// <summary>A request the server refuses with a problem+json answer (4xx), raised while reading or checking it.</summary>
public sealed class ProblemException : Exception
{
    /// <summary>Creates the exception.</summary>
    public ProblemException(Problem problem) : base(problem?.Detail ?? problem?.Title) => Problem = problem!;

    /// <summary>The answer.</summary>
    public Problem Problem { get; }

    /// <summary>400 naming a request field.</summary>
    public static ProblemException BadRequest(string detail) =>
        new(new Problem { Title = "Invalid request", Status = 400, Detail = detail });

    /// <summary>400 (413 for the body size) naming the exceeded limit, its value and the value asked for.</summary>
    public static ProblemException LimitExceeded(string limit, long max, long actual, string detail, int status = 400) =>
        new(new Problem
        {
            Type = "https://github.com/inseq-bridge/limits#" + limit,
            Title = $"Request exceeds the server limit {limit}",
            Status = status,
            Detail = detail,
            Limit = limit,
            Max = max,
            Actual = actual,
        });
}
