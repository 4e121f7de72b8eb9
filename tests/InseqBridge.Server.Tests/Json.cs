using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Serialization;

namespace InseqBridge.Server.Tests;

/// <summary>Helpers: posting bodies, comparing Inseq JSON, running the CLI in-process.</summary>
public static class Json
{
    public static StringContent Body(string json) => new(json, Encoding.UTF8, "application/json");

    public static HttpRequestMessage Post(string json, string? accept = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/v1/attribute") { Content = Body(json) };
        if (accept is not null)
        {
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
        }

        return request;
    }

    /// <summary>
    /// Inseq JSON parsed (our reader, which accepts Inseq's bare NaN) and written back canonically, without the run
    /// time (<c>info.exec_time</c>), the one field that differs between two runs of the same call.
    /// </summary>
    public static string Canonical(string json)
    {
        var output = InseqJson.Parse(json, "response");
        var info = (JsonObject)output.Info.DeepClone();
        info.Remove("exec_time");
        return InseqJson.Serialize(output with { Info = info });
    }

    /// <summary>
    /// Asserts two Inseq JSON texts hold the same result: equal after parsing (run time aside), or, where the engine
    /// itself is not bit-reproducible from run to run (multi-threaded reductions in reference mode), the same
    /// tokens, info and shapes with every score within 1e-5 of the largest magnitude.
    /// </summary>
    public static void AssertSameResult(string expected, string actual)
    {
        if (Canonical(expected) == Canonical(actual))
        {
            return;
        }

        var a = InseqJson.Parse(expected);
        var b = InseqJson.Parse(actual);
        var infoA = (JsonObject)a.Info.DeepClone();
        var infoB = (JsonObject)b.Info.DeepClone();
        infoA.Remove("exec_time");
        infoB.Remove("exec_time");
        Xunit.Assert.Equal(infoA.ToJsonString(), infoB.ToJsonString());
        Xunit.Assert.Equal(a.SequenceAttributions.Count, b.SequenceAttributions.Count);
        for (int i = 0; i < a.SequenceAttributions.Count; i++)
        {
            var (x, y) = (a.SequenceAttributions[i], b.SequenceAttributions[i]);
            Xunit.Assert.Equal(x.Source.Select(t => t.Token + t.Id), y.Source.Select(t => t.Token + t.Id));
            Xunit.Assert.Equal(x.Target.Select(t => t.Token + t.Id), y.Target.Select(t => t.Token + t.Id));
            Close(x.SourceAttributions, y.SourceAttributions);
            Close(x.TargetAttributions, y.TargetAttributions);
            Xunit.Assert.Equal(x.StepScores.Keys.Order(), y.StepScores.Keys.Order());
            foreach (string key in x.StepScores.Keys)
            {
                Close(x.StepScores[key], y.StepScores[key]);
            }
        }
    }

    private static void Close(InseqBridge.Data.NdArray? x, InseqBridge.Data.NdArray? y)
    {
        Xunit.Assert.Equal(x is null, y is null);
        if (x is null || y is null)
        {
            return;
        }

        Xunit.Assert.Equal(x.Shape, y.Shape);
        float[] a = x.ToArray(), b = y.ToArray();
        float scale = a.Where(float.IsFinite).Select(Math.Abs).DefaultIfEmpty(0f).Max();
        for (int i = 0; i < a.Length; i++)
        {
            Xunit.Assert.True(
                float.IsNaN(a[i]) ? float.IsNaN(b[i]) : Math.Abs(a[i] - b[i]) <= 1e-5f * Math.Max(scale, 1e-12f),
                $"value {i}: {a[i]} vs {b[i]}");
        }
    }

    /// <summary>Runs <c>inseq-bridge</c> in this process.</summary>
    public static (int ExitCode, string Output, string Error) Cli(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = InseqBridge.Cli.CommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
