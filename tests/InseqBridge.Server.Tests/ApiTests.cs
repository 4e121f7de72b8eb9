using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using InseqBridge.Serialization;

namespace InseqBridge.Server.Tests;

/// <summary>The HTTP API in-process (TestServer): answers equal the CLI's, errors are problem+json naming the fix.</summary>
public sealed class ApiTests(InProcessServer server) : IClassFixture<InProcessServer>
{
    private HttpClient Client => server.Host.Client;

    public static TheoryData<string, string[]> SameCalls => new()
    {
        {
            """{"model": "w2d", "method": "integrated_gradients", "input_texts": ["seven two nine four"], "step_scores": ["probability"], "attribution_args": {"n_steps": 8}}""",
            ["--model", RepoPaths.Words2Digits, "--method", "integrated_gradients", "--input", "seven two nine four", "--step-scores", "probability", "--n-steps", "8"]
        },
        {
            """{"model": "gpt2", "method": "saliency", "input_texts": ["Hello world"], "generated_texts": ["Hello world, how are you"], "step_scores": ["entropy", "probability"], "step_scores_args": {"logprob": true}, "aggregate": true}""",
            ["--model", RepoPaths.Gpt2, "--method", "saliency", "--input", "Hello world", "--generated", "Hello world, how are you", "--step-scores", "entropy,probability", "--step-scores-args", "logprob=true", "--aggregate"]
        },
        {
            """{"model": "w2d", "method": "attention", "input_texts": ["one two", "three"], "attribute_target": true, "max_new_tokens": 4}""",
            ["--model", RepoPaths.Words2Digits, "--method", "attention", "--input", "one two", "--input", "three", "--attribute-target", "--max-new-tokens", "4"]
        },
        {
            """{"model": "gpt2", "method": "input_x_gradient", "input_texts": "The cat", "max_new_tokens": 3, "attr_pos_start": 3, "mode": "reference", "seed": 7}""",
            ["--model", RepoPaths.Gpt2, "--method", "input_x_gradient", "--input", "The cat", "--max-new-tokens", "3", "--attr-pos-start", "3", "--mode", "reference", "--seed", "7"]
        },
        {
            """{"model": "w2d", "method": "saliency", "input_texts": ["seven two"], "skip_special_tokens": true, "clean_special_chars": true}""",
            ["--model", RepoPaths.Words2Digits, "--method", "saliency", "--input", "seven two", "--skip-special-tokens", "--clean-special-chars"]
        },
    };

    [Theory]
    [MemberData(nameof(SameCalls))]
    public async Task Attribute_answers_what_attribute_save_writes_for_the_same_call(string body, string[] cliArguments)
    {
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body));
        string served = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, served);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);

        string file = Path.Combine(Path.GetTempPath(), $"inseq-bridge-serve-{Guid.NewGuid():N}.json");
        try
        {
            var cli = Json.Cli(["attribute", .. cliArguments, "--save", file]);
            Assert.True(cli.ExitCode == 0, cli.Error);
            Json.AssertSameResult(File.ReadAllText(file), served);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Accept_text_html_gives_the_heatmap_page_of_attribute_html()
    {
        const string body = """{"model": "w2d", "method": "saliency", "input_texts": ["seven two"], "step_scores": ["probability"]}""";
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body, "text/html"));
        string page = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);

        string file = Path.Combine(Path.GetTempPath(), $"inseq-bridge-serve-{Guid.NewGuid():N}.html");
        try
        {
            var cli = Json.Cli("attribute", "--model", RepoPaths.Words2Digits, "--method", "saliency", "--input", "seven two", "--step-scores", "probability", "--html", file);
            Assert.True(cli.ExitCode == 0, cli.Error);
            Assert.Equal(File.ReadAllText(file), page);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Event_stream_sends_progress_events_then_the_result()
    {
        const string body = """{"model": "gpt2", "method": "integrated_gradients", "input_texts": ["Hello"], "generated_texts": ["Hello world, how are"], "attribution_args": {"n_steps": 5}, "mode": "reference"}""";
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body, "text/event-stream"));
        string stream = await response.Content.ReadAsStringAsync();
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        var events = ParseEvents(stream);
        Assert.Equal("queued", events[0].Name);
        var progress = events.Where(e => e.Name == "progress").Select(e => JsonNode.Parse(e.Data)!).ToList();
        Assert.NotEmpty(progress);
        Assert.Equal(progress[^1]["total"]!.GetValue<int>(), progress[^1]["completed"]!.GetValue<int>());
        int resultIndex = events.FindIndex(e => e.Name == "result");
        Assert.True(resultIndex > events.FindLastIndex(e => e.Name == "progress"), stream);
        Assert.Equal("done", events[^1].Name);

        using HttpResponseMessage plain = await Client.SendAsync(Json.Post(body));
        Json.AssertSameResult(await plain.Content.ReadAsStringAsync(), events[resultIndex].Data);
    }

    [Fact]
    public async Task Models_are_listed_by_name_without_their_folders()
    {
        string text = await Client.GetStringAsync("/v1/models");
        var models = JsonNode.Parse(text)!["models"]!.AsArray();
        Assert.Equal(["w2d", "gpt2"], models.Select(m => m!["name"]!.GetValue<string>()));
        Assert.Equal("BartForConditionalGeneration", models[0]!["model_class"]!.GetValue<string>());
        Assert.True(models[0]!["is_encoder_decoder"]!.GetValue<bool>());
        Assert.DoesNotContain(RepoPaths.Root, text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Methods_and_step_functions_list_their_arguments_and_defaults()
    {
        var methods = JsonNode.Parse(await Client.GetStringAsync("/v1/methods"))!["methods"]!.AsArray();
        JsonNode ig = methods.Single(m => m!["id"]!.GetValue<string>() == "integrated_gradients")!;
        Assert.Equal(50, ig["arguments"]!.AsArray().Single(a => a!["name"]!.GetValue<string>() == "n_steps")!["default"]!.GetValue<int>());
        Assert.False(methods.Single(m => m!["id"]!.GetValue<string>() == "attention")!["accepts_step_scores"]!.GetValue<bool>());
        Assert.Equal(InseqBridge.Attribution.AttributionMethod.KnownIds, methods.Select(m => m!["id"]!.GetValue<string>()));

        var steps = JsonNode.Parse(await Client.GetStringAsync("/v1/step-functions"))!["step_functions"]!.AsArray();
        Assert.Equal(InseqBridge.Attribution.StepFunction.BuiltInIds, steps.Select(s => s!["id"]!.GetValue<string>()));
        JsonNode kl = steps.Single(s => s!["id"]!.GetValue<string>() == "kl_divergence")!;
        Assert.Equal(["top_k", "top_p", "min_tokens_to_keep"], kl["arguments"]!.AsArray().Select(a => a!["name"]!.GetValue<string>()));
        JsonNode topP = steps.Single(s => s!["id"]!.GetValue<string>() == "top_p_size")!["arguments"]![0]!;
        Assert.Equal("top_p", topP["name"]!.GetValue<string>());
        Assert.Null(topP["default"]); // required
    }

    [Fact]
    public async Task Health_readiness_metrics_and_the_openapi_document_are_served()
    {
        Assert.Equal("ok", JsonNode.Parse(await Client.GetStringAsync("/healthz"))!["status"]!.GetValue<string>());
        Assert.Equal("ready", JsonNode.Parse(await Client.GetStringAsync("/readyz"))!["status"]!.GetValue<string>());
        using (await Client.SendAsync(Json.Post("""{"model": "w2d", "input_texts": ["one"]}""")))
        {
        }

        string metrics = await Client.GetStringAsync("/metrics");
        foreach (string name in new[]
        {
            "inseqbridge_requests_total", "inseqbridge_queue_length", "inseqbridge_attribution_duration_seconds_bucket",
            "inseqbridge_attributions_in_flight", "inseqbridge_tokens_attributed_total",
        })
        {
            Assert.Contains(name, metrics, StringComparison.Ordinal);
        }

        JsonNode openApi = JsonNode.Parse(await Client.GetStringAsync("/openapi/inseq-bridge.json"))!;
        Assert.NotNull(openApi["paths"]!["/v1/attribute"]!["post"]!["requestBody"]);
        var fields = openApi["components"]!["schemas"]!["AttributeRequestBody"]!["properties"]!.AsObject().Select(p => p.Key).ToList();
        Assert.Equal(AttributeRequestReader.Fields.Order(), fields.Order());
    }

    [Theory]
    [InlineData("/")]
    [InlineData("/docs")]
    public async Task Pages_load_nothing_from_elsewhere(string path)
    {
        using HttpResponseMessage response = await Client.GetAsync(path);
        string page = await response.Content.ReadAsStringAsync();
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain("<script src", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<link", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("@import", page, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("url(http", page, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("default-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model": "w2d", "input_texts": ["seven"], "method": "nope"}""", "attribute --model {w2d} --input seven --method nope")]
    [InlineData("""{"model": "gpt2", "input_texts": ["Hello world"], "generated_texts": ["Goodbye"]}""", "attribute --model {gpt2} --input Hello~world --generated Goodbye")]
    [InlineData("""{"model": "gpt2", "input_texts": ["Hello"], "max_new_tokens": 2, "step_scores": ["bogus"]}""", "attribute --model {gpt2} --input Hello --max-new-tokens 2 --step-scores bogus")]
    [InlineData("""{"model": "gpt2", "input_texts": ["Hello"], "max_new_tokens": 2, "method": "integrated_gradients", "attribution_args": {"n_stepz": 3}}""", "attribute --model {gpt2} --input Hello --max-new-tokens 2 --method integrated_gradients --method-args n_stepz=3")]
    public async Task Engine_errors_are_400_problems_with_the_message_the_cli_prints(string body, string cliLine)
    {
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body));
        JsonNode problem = await Problem(response, HttpStatusCode.BadRequest);

        string[] args = [.. cliLine.Split(' ').Select(a => a.Replace("{w2d}", RepoPaths.Words2Digits, StringComparison.Ordinal)
            .Replace("{gpt2}", RepoPaths.Gpt2, StringComparison.Ordinal).Replace('~', ' '))];
        var cli = Json.Cli(args);
        Assert.NotEqual(0, cli.ExitCode);
        string cliMessage = cli.Error.Split('\n')[0].TrimEnd('\r');
        Assert.StartsWith("error: ", cliMessage, StringComparison.Ordinal);
        Assert.Equal(cliMessage["error: ".Length..], problem["detail"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("{not json", "not valid JSON")]
    [InlineData("[1, 2]", "must be a JSON object")]
    [InlineData("""{"input_texts": ["x"]}""", "'model' is required")]
    [InlineData("""{"model": "w2d"}""", "'input_texts' is required")]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "model_path": "/etc"}""", "Unknown field 'model_path'")]
    [InlineData("""{"model": "w2d", "input_texts": [1]}""", "'input_texts' has the wrong type")]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "max_new_tokens": "many"}""", "'max_new_tokens' has the wrong type")]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "mode": "turbo"}""", "'mode' must be")]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "clean_special_chars": "yes"}""", "'clean_special_chars' has the wrong type")]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "attribution_args": {"n_steps": {"a": 1}}}""", "'n_steps' must be")]
    public async Task Malformed_bodies_are_400_problems_naming_the_field(string body, string expected)
    {
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body));
        JsonNode problem = await Problem(response, HttpStatusCode.BadRequest);
        Assert.Contains(expected, problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "max_new_tokens": 65}""", "max_new_tokens", 64, 65)]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "method": "integrated_gradients", "attribution_args": {"n_steps": 101}}""", "max_n_steps", 100, 101)]
    [InlineData("""{"model": "w2d", "input_texts": ["a", "b", "c", "d", "e", "f", "g", "h", "i"]}""", "max_batch_size", 8, 9)]
    [InlineData("""{"model": "w2d", "input_texts": ["x"], "batch_size": 9}""", "max_batch_size", 8, 9)]
    public async Task Requests_beyond_a_server_limit_are_400_problems_naming_it(string body, string limit, long max, long actual)
    {
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body));
        JsonNode problem = await Problem(response, HttpStatusCode.BadRequest);
        Assert.Equal(limit, problem["limit"]!.GetValue<string>());
        Assert.Equal(max, problem["max"]!.GetValue<long>());
        Assert.Equal(actual, problem["actual"]!.GetValue<long>());
    }

    [Fact]
    public async Task Texts_beyond_max_input_tokens_are_refused()
    {
        string text = string.Join(' ', Enumerable.Repeat("seven", 600));
        using HttpResponseMessage response = await Client.SendAsync(Json.Post($$"""{"model": "w2d", "input_texts": ["{{text}}"]}"""));
        JsonNode problem = await Problem(response, HttpStatusCode.BadRequest);
        Assert.Equal("max_input_tokens", problem["limit"]!.GetValue<string>());
        Assert.True(problem["actual"]!.GetValue<long>() > 512);
    }

    [Fact]
    public async Task Bodies_beyond_max_body_bytes_are_413()
    {
        string text = new('x', 1_100_000);
        using HttpResponseMessage response = await Client.SendAsync(Json.Post($$"""{"model": "w2d", "input_texts": ["{{text}}"]}"""));
        JsonNode problem = await Problem(response, HttpStatusCode.RequestEntityTooLarge);
        Assert.Equal("max_body_bytes", problem["limit"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("../../../../etc/passwd")]
    [InlineData("/etc/passwd")]
    [InlineData("w2d/../gpt2")]
    [InlineData("file:///etc/passwd")]
    [InlineData("{words2digits}")]
    [InlineData("W2D")]
    public async Task A_request_can_name_only_a_configured_model(string model)
    {
        model = model.Replace("{words2digits}", RepoPaths.Words2Digits, StringComparison.Ordinal);
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(JsonSerializer.Serialize(new Dictionary<string, object> { ["model"] = model, ["input_texts"] = new[] { "x" } })));
        JsonNode problem = await Problem(response, HttpStatusCode.NotFound);
        Assert.Contains("Configured: w2d, gpt2", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.DoesNotContain("root:", problem.ToJsonString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Method_arguments_that_name_files_are_refused()
    {
        const string body = """{"model": "gpt2", "method": "reagent", "input_texts": ["Hello"], "max_new_tokens": 1, "attribution_args": {"pos_tag_map": "/etc/passwd"}}""";
        using HttpResponseMessage response = await Client.SendAsync(Json.Post(body));
        JsonNode problem = await Problem(response, HttpStatusCode.BadRequest);
        Assert.Contains("'pos_tag_map' names a file", problem["detail"]!.GetValue<string>(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_body_sent_as_form_data_is_still_read_as_json()
    {
        using var content = new StringContent("""{"model": "w2d", "input_texts": ["one"], "max_new_tokens": 2}""", System.Text.Encoding.UTF8, "application/x-www-form-urlencoded");
        using HttpResponseMessage response = await Client.PostAsync("/v1/attribute", content);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.NotNull(InseqJson.Parse(await response.Content.ReadAsStringAsync()));
    }

    internal static async Task<JsonNode> Problem(HttpResponseMessage response, HttpStatusCode expected)
    {
        string text = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        JsonNode problem = JsonNode.Parse(text)!;
        Assert.Equal((int)expected, problem["status"]!.GetValue<int>());
        Assert.DoesNotContain("   at ", text, StringComparison.Ordinal);
        Assert.DoesNotContain("InseqBridge.", text, StringComparison.Ordinal);
        return problem;
    }

    internal static List<(string Name, string Data)> ParseEvents(string stream)
    {
        var events = new List<(string, string)>();
        foreach (string block in stream.Replace("\r\n", "\n", StringComparison.Ordinal).Split("\n\n", StringSplitOptions.RemoveEmptyEntries))
        {
            string name = "message";
            var data = new List<string>();
            foreach (string line in block.Split('\n'))
            {
                if (line.StartsWith("event: ", StringComparison.Ordinal))
                {
                    name = line["event: ".Length..];
                }
                else if (line.StartsWith("data: ", StringComparison.Ordinal))
                {
                    data.Add(line["data: ".Length..]);
                }
            }

            events.Add((name, string.Join('\n', data)));
        }

        return events;
    }
}
