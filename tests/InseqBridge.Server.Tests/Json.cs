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

    /// <summary>The JSON text with the <c>exec_time</c> line removed (both sides come from the same writer).</summary>
    public static string RawWithoutRunTime(string json) =>
        System.Text.RegularExpressions.Regex.Replace(json.Replace("\r\n", "\n", StringComparison.Ordinal), "\\s*\"exec_time\": [^,\\n]+,?", string.Empty);

    /// <summary>Runs <c>inseq-bridge</c> in this process.</summary>
    public static (int ExitCode, string Output, string Error) Cli(params string[] args)
    {
        using var output = new StringWriter();
        using var error = new StringWriter();
        int code = InseqBridge.Cli.CommandLine.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }
}
