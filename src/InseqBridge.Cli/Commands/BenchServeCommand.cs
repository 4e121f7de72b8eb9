using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using InseqBridge.Data;
using InseqBridge.Serialization;
using InseqBridge.Server;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace InseqBridge.Cli.Commands;

/// <summary>
/// <c>bench serve</c>: load on the HTTP service. A server on a loopback port serves one model; first each request of a
/// fixed set is sent once, one at a time (the single-threaded results); then <c>--clients</c> clients send the set
/// in a loop for <c>--duration</c> seconds. Reports throughput, latency percentiles, errors, resident memory at the
/// start and end of the load, and whether every response equals its single-threaded result.
/// </summary>
public static partial class BenchCommand
{
    private static Command ServeSubcommand()
    {
        var duration = new Option<int>("--duration") { Description = "Seconds of load per model (default 60).", DefaultValueFactory = _ => 60, HelpName = "S" };
        var clients = new Option<int>("--clients") { Description = "Concurrent clients (default 8).", DefaultValueFactory = _ => 8, HelpName = "N" };
        var only = new Option<string[]>("--only") { Description = "Run only these models: words2digits, gpt2-small (repeatable).", HelpName = "MODEL", AllowMultipleArgumentsPerToken = true };
        var modelsDir = new Option<string?>("--models-dir") { Description = "Keep the random-weight gpt2-small here (reused when present).", HelpName = "DIR" };
        var json = new Option<string?>("--json") { Description = "Save the figures as JSON.", HelpName = "FILE" };
        var contention = new Option<bool>("--contention")
        {
            Description = "Run each model's load again while a busy process started by the bench keeps one CPU busy, and report the slowdown.",
        };
        var command = new Command("serve", "Load-test the HTTP service (serve): concurrent clients on the demo model and a GPT-2-small-size model.")
        {
            duration, clients, only, modelsDir, json, contention,
        };
        command.SetAction(parseResult => RunServe(
            parseResult.GetValue(duration), parseResult.GetValue(clients), parseResult.GetValue(only) ?? [], parseResult.GetValue(modelsDir),
            parseResult.GetValue(json), parseResult.GetValue(contention), parseResult.InvocationConfiguration.Output).GetAwaiter().GetResult());
        return command;
    }

    /// <summary>Figures of one model under load.</summary>
    private sealed record ServeCase(
        string Model, int Clients, double Seconds, int Requests, double Throughput, double P50, double P95, double P99,
        int Errors, int Identical, int WithinTolerance, int Different, double RssStartMb, double RssEndMb, int MaxConcurrency)
    {
        /// <summary>"quiet", or "contended" while a competing busy process holds one CPU.</summary>
        public string Load { get; init; } = "quiet";
    }

    private static async Task<int> RunServe(int duration, int clients, string[] only, string? modelsDir, string? jsonPath, bool contention, TextWriter output)
    {
        if (duration < 1 || clients < 1)
        {
            throw new CliUsageException("--duration and --clients must be at least 1.");
        }

        string fixtures = FindFixtureModels();
        string root = Path.GetFullPath(Path.Combine(fixtures, "..", "..", "..", ".."));
        string demo = Path.Combine(root, "examples", "models", "words2digits");
        var cases = new List<ServeCase>();
        string? temp = null;
        try
        {
            foreach (string name in new[] { "words2digits", "gpt2-small" })
            {
                if (only.Length > 0 && !only.Contains(name))
                {
                    continue;
                }

                string dir;
                string[] bodies;
                if (name == "words2digits")
                {
                    dir = demo;
                    bodies =
                    [
                        """{"model": "m", "method": "integrated_gradients", "input_texts": ["seven two nine four"], "step_scores": ["probability"], "attribution_args": {"n_steps": 20}}""",
                        """{"model": "m", "method": "saliency", "input_texts": ["one eight three"], "step_scores": ["probability", "entropy"]}""",
                        """{"model": "m", "method": "input_x_gradient", "input_texts": ["five five six zero two"], "aggregate": true}""",
                        """{"model": "m", "method": "attention", "input_texts": ["nine one"], "attribute_target": true}""",
                    ];
                }
                else
                {
                    string parent = modelsDir ?? (temp ??= Directory.CreateTempSubdirectory("inseq-bridge-bench-serve-").FullName);
                    dir = Path.Combine(parent, name);
                    if (!File.Exists(Path.Combine(dir, "model.safetensors")))
                    {
                        output.WriteLine($"creating a random-weight {name} in {dir}");
                        ScaledCheckpoint(Path.Combine(fixtures, "gpt2"), dir, isBart: false);
                    }

                    bodies =
                    [
                        """{"model": "m", "method": "saliency", "input_texts": ["The old lighthouse keeper climbed the stairs"], "generated_texts": ["The old lighthouse keeper climbed the stairs every evening to light the lamp"], "step_scores": ["probability"]}""",
                        """{"model": "m", "method": "input_x_gradient", "input_texts": ["Children from the village would bring him bread"], "max_new_tokens": 5}""",
                        """{"model": "m", "method": "attention", "input_texts": ["Over the years he had seen storms tear sails apart"], "max_new_tokens": 6}""",
                    ];
                }

                cases.Add(await LoadOneModel(name, dir, bodies, duration, clients, output).ConfigureAwait(false));
                if (contention)
                {
                    CompetingProcess busy = StartCompeting(output);
                    try
                    {
                        cases.Add(await LoadOneModel(name, dir, bodies, duration, clients, output).ConfigureAwait(false) with { Load = "contended" });
                    }
                    finally
                    {
                        StopCompeting(busy, output);
                    }
                }
            }
        }
        finally
        {
            if (temp is not null)
            {
                Directory.Delete(temp, recursive: true);
            }
        }

        output.WriteLine();
        output.WriteLine("| model | load | clients | requests | throughput (req/s) | p50 / p95 / p99 (s) | errors | equal to single-threaded (identical + within 1e-5) | RSS start / end (MB) |");
        output.WriteLine("|---|---|---|---|---|---|---|---|---|");
        foreach (ServeCase c in cases)
        {
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {c.Model} | {c.Load} | {c.Clients} | {c.Requests} | {c.Throughput:F2} | {c.P50:F3} / {c.P95:F3} / {c.P99:F3} | {c.Errors} | {c.Identical + c.WithinTolerance}/{c.Requests - c.Errors} ({c.Identical} + {c.WithinTolerance}) | {c.RssStartMb:F0} / {c.RssEndMb:F0} |"));
        }

        foreach (ServeCase busy in cases.Where(c => c.Load == "contended"))
        {
            ServeCase quiet = cases.First(c => c.Model == busy.Model && c.Load == "quiet");
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{busy.Model} under contention: throughput {quiet.Throughput / busy.Throughput:F2}x lower, p50 latency {busy.P50 / quiet.P50:F2}x, p95 {busy.P95 / quiet.P95:F2}x (contended / quiet)"));
        }

        if (jsonPath is not null)
        {
            var array = new JsonArray();
            foreach (ServeCase c in cases)
            {
                array.Add(new JsonObject
                {
                    ["model"] = c.Model,
                    ["load"] = c.Load,
                    ["clients"] = c.Clients,
                    ["seconds"] = c.Seconds,
                    ["requests"] = c.Requests,
                    ["throughput_rps"] = c.Throughput,
                    ["p50_s"] = c.P50,
                    ["p95_s"] = c.P95,
                    ["p99_s"] = c.P99,
                    ["errors"] = c.Errors,
                    ["identical"] = c.Identical,
                    ["within_tolerance"] = c.WithinTolerance,
                    ["different"] = c.Different,
                    ["rss_start_mb"] = c.RssStartMb,
                    ["rss_end_mb"] = c.RssEndMb,
                    ["max_concurrency"] = c.MaxConcurrency,
                });
            }

            File.WriteAllText(jsonPath, new JsonObject { ["cases"] = array }.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            output.WriteLine($"wrote {jsonPath}");
        }

        return cases.All(c => c.Errors == 0 && c.Different == 0) ? ExitCodes.Success : ExitCodes.Failure;
    }

    private static async Task<ServeCase> LoadOneModel(string name, string dir, string[] bodies, int duration, int clients, TextWriter output)
    {
        WebApplication app = InseqBridgeServer.Create(["http://127.0.0.1:0"], o =>
        {
            o.Models["m"] = dir;
            o.QueueLength = clients;
        }, logging => logging.ClearProviders());
        await using (app.ConfigureAwait(false))
        {
            await app.StartAsync().ConfigureAwait(false);
            await app.Services.GetRequiredService<ModelRegistry>().WhenReady.ConfigureAwait(false);
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            int concurrency = app.Services.GetRequiredService<AttributionGate>().MaxConcurrency;
            using var http = new HttpClient { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(10) };

            // Single-threaded results (one request at a time), which also warm the server up.
            var reference = new string[bodies.Length];
            for (int i = 0; i < bodies.Length; i++)
            {
                (int status, string text, _) = await Send(http, bodies[i]).ConfigureAwait(false);
                if (status != 200)
                {
                    throw new InvalidOperationException($"bench serve: request {i} on {name} failed with {status}: {text}");
                }

                reference[i] = text;
            }

            double rssStart = ResidentMegabytes();
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {clients} clients for {duration} s ({bodies.Length} distinct requests, {concurrency} attribution(s) at once); RSS {rssStart:F0} MB"));
            var latencies = new ConcurrentBag<double>();
            int errors = 0, identical = 0, within = 0, different = 0;
            var watch = Stopwatch.StartNew();
            var deadline = TimeSpan.FromSeconds(duration);
            var workers = Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
            {
                for (int k = client; watch.Elapsed < deadline; k++)
                {
                    int index = k % bodies.Length;
                    (int status, string text, double seconds) = await Send(http, bodies[index]).ConfigureAwait(false);
                    latencies.Add(seconds);
                    if (status != 200)
                    {
                        Interlocked.Increment(ref errors);
                        continue;
                    }

                    switch (Compare(reference[index], text))
                    {
                        case 0:
                            Interlocked.Increment(ref identical);
                            break;
                        case 1:
                            Interlocked.Increment(ref within);
                            break;
                        default:
                            Interlocked.Increment(ref different);
                            break;
                    }
                }
            })).ToArray();
            await Task.WhenAll(workers).ConfigureAwait(false);
            double elapsed = watch.Elapsed.TotalSeconds;
            double rssEnd = ResidentMegabytes();
            double[] sorted = [.. latencies.Order()];
            double Percentile(double p) => sorted.Length == 0 ? double.NaN : sorted[Math.Clamp((int)Math.Ceiling(p * sorted.Length) - 1, 0, sorted.Length - 1)];
            var result = new ServeCase(name, clients, elapsed, sorted.Length, sorted.Length / elapsed, Percentile(0.50), Percentile(0.95), Percentile(0.99),
                errors, identical, within, different, rssStart, rssEnd, concurrency);
            output.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{name}: {result.Requests} requests in {elapsed:F1} s = {result.Throughput:F2} req/s; latency p50 {result.P50:F3} s, p95 {result.P95:F3} s, p99 {result.P99:F3} s; errors {errors}; equal to the single-threaded result: {identical} identical, {within} within 1e-5, {different} different; RSS {rssStart:F0} -> {rssEnd:F0} MB"));
            await app.StopAsync().ConfigureAwait(false);
            return result;
        }
    }

    private static async Task<(int Status, string Text, double Seconds)> Send(HttpClient http, string body)
    {
        long start = Stopwatch.GetTimestamp();
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using HttpResponseMessage response = await http.PostAsync("/v1/attribute", content).ConfigureAwait(false);
        string text = await response.Content.ReadAsStringAsync().ConfigureAwait(false);
        return ((int)response.StatusCode, text, Stopwatch.GetElapsedTime(start).TotalSeconds);
    }

    /// <summary>0: equal after parsing (run time aside); 1: same tokens and shapes, scores within 1e-5 of the largest; 2: different.</summary>
    private static int Compare(string expected, string actual)
    {
        FeatureAttributionOutput a = InseqJson.Parse(expected), b = InseqJson.Parse(actual);
        static string Canonical(FeatureAttributionOutput o)
        {
            var info = (JsonObject)o.Info.DeepClone();
            info.Remove("exec_time");
            return InseqJson.Serialize(o with { Info = info });
        }

        if (Canonical(a) == Canonical(b))
        {
            return 0;
        }

        if (a.SequenceAttributions.Count != b.SequenceAttributions.Count)
        {
            return 2;
        }

        for (int i = 0; i < a.SequenceAttributions.Count; i++)
        {
            var (x, y) = (a.SequenceAttributions[i], b.SequenceAttributions[i]);
            if (!x.Target.Select(t => t.Id).SequenceEqual(y.Target.Select(t => t.Id)) || !x.Source.Select(t => t.Id).SequenceEqual(y.Source.Select(t => t.Id))
                || !Close(x.SourceAttributions, y.SourceAttributions) || !Close(x.TargetAttributions, y.TargetAttributions)
                || !x.StepScores.Keys.Order().SequenceEqual(y.StepScores.Keys.Order()) || x.StepScores.Keys.Any(k => !Close(x.StepScores[k], y.StepScores[k])))
            {
                return 2;
            }
        }

        return 1;
    }

    private static bool Close(NdArray? x, NdArray? y)
    {
        if (x is null || y is null)
        {
            return x is null && y is null;
        }

        if (!x.Shape.SequenceEqual(y.Shape))
        {
            return false;
        }

        float[] a = x.ToArray(), b = y.ToArray();
        float scale = Math.Max(a.Where(float.IsFinite).Select(Math.Abs).DefaultIfEmpty(0f).Max(), 1e-12f);
        for (int i = 0; i < a.Length; i++)
        {
            if (float.IsNaN(a[i]) ? !float.IsNaN(b[i]) : Math.Abs(a[i] - b[i]) > 1e-5f * scale)
            {
                return false;
            }
        }

        return true;
    }

    private static double ResidentMegabytes()
    {
        GC.Collect();
        foreach (string line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return double.Parse(line["VmRSS:".Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / 1024.0;
            }
        }

        return Process.GetCurrentProcess().WorkingSet64 / (1024.0 * 1024.0);
    }
}
