using System.Buffers.Binary;
using System.Text.Json.Nodes;

namespace InseqBridge.Python.Tests;

public class ProtocolTests
{
    [Fact]
    public async Task A_frame_round_trips_header_and_body()
    {
        using var stream = new MemoryStream();
        byte[] body = [1, 2, 3, 255];
        await WorkerProtocol.WriteAsync(stream, new WorkerMessage(new JsonObject { ["id"] = 7, ["op"] = "x" }, body), 100);
        stream.Position = 0;
        WorkerMessage? read = await WorkerProtocol.ReadAsync(stream, 100);
        Assert.NotNull(read);
        Assert.Equal(7, read!.Header["id"]!.GetValue<int>());
        Assert.Equal(body, read.Body);
        Assert.Null(await WorkerProtocol.ReadAsync(stream, 100)); // clean end
    }

    [Fact]
    public async Task Oversized_bodies_are_refused_on_both_sides_without_allocating()
    {
        using var stream = new MemoryStream();
        await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.WriteAsync(stream, new WorkerMessage([], new byte[11]), 10));

        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, 2);
        BinaryPrimitives.WriteUInt32LittleEndian(prefix.AsSpan(4), uint.MaxValue); // claims 4 GiB
        using var claim = new MemoryStream([.. prefix, .. "{}"u8.ToArray()]);
        var e = await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.ReadAsync(claim, 1 << 20));
        Assert.Contains("exceeds the limit", e.Message);
    }

    [Fact]
    public async Task Truncated_and_malformed_frames_are_protocol_errors()
    {
        using var stream = new MemoryStream();
        await WorkerProtocol.WriteAsync(stream, new WorkerMessage(new JsonObject { ["id"] = 1 }, [9, 9, 9]), 100);
        byte[] whole = stream.ToArray();
        using var truncated = new MemoryStream(whole[..^1]);
        await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.ReadAsync(truncated, 100));

        var prefix = new byte[8];
        BinaryPrimitives.WriteUInt32LittleEndian(prefix, 3);
        using var notJson = new MemoryStream([.. prefix, .. "{x]"u8.ToArray()]);
        await Assert.ThrowsAsync<PythonProtocolException>(() => WorkerProtocol.ReadAsync(notJson, 100));
    }
}

/// <summary>The typed messages of the worker channel (source-generated JSON) and how the worker answers bad ones.</summary>
public class WorkerMessageTests
{
    [Fact]
    public void Requests_carry_the_operation_by_its_wire_name_and_snake_case_arguments()
    {
        var request = new WorkerRequest(3, WorkerOperation.TestHangNative, WorkerJson.ToNode(new TestSleepArguments(1.5)));
        Assert.Equal("""{"id":3,"op":"test.hang_native","args":{"seconds":1.5}}""", WorkerJson.Header(request).ToJsonString());
        var load = new LoadArguments("m1", "models/gpt2", "saliency", new JsonObject { ["tokenizer_kwargs"] = new JsonObject { ["use_fast"] = false } });
        Assert.Equal(
            """{"handle":"m1","model":"models/gpt2","method":"saliency","load_kwargs":{"tokenizer_kwargs":{"use_fast":false}}}""",
            WorkerJson.ToNode(load)!.ToJsonString());
        WorkerRequest back = WorkerJson.Read<WorkerRequest>(WorkerJson.Header(request), "request");
        Assert.Equal(WorkerOperation.TestHangNative, back.Op);
        Assert.Equal(1.5, WorkerJson.Read<TestSleepArguments>(back.Args, "arguments").Seconds);
    }

    [Fact]
    public void Every_operation_has_a_distinct_wire_name_and_only_test_operations_start_with_test()
    {
        var names = Enum.GetValues<WorkerOperation>().Select(o => o.WireName()).ToList();
        Assert.Equal(names.Count, names.Distinct().Count());
        foreach (WorkerOperation op in Enum.GetValues<WorkerOperation>())
        {
            Assert.Equal(op.IsTest(), op.WireName().StartsWith("test.", StringComparison.Ordinal));
            Assert.Equal(op, WorkerOperations.FromWireName(op.WireName()));
            Assert.Equal($"\"{op.WireName()}\"", WorkerJson.Header(new WorkerRequest(1, op))["op"]!.ToJsonString());
        }
    }

    [Fact]
    public void Python_probe_and_load_results_read_into_the_records()
    {
        ProbeResult probe = WorkerJson.Read<ProbeResult>(JsonNode.Parse("""
            {"python": "3.12.3", "executable": "/usr/bin/python3", "prefix": "/usr",
             "modules": {"torch": {"version": "2.5", "error": null}, "inseq": {"version": null, "error": "ModuleNotFoundError: x"}}}
            """), "probe");
        Assert.Equal("2.5", probe.Modules["torch"].Version);
        Assert.Equal("ModuleNotFoundError: x", probe.Modules["inseq"].Error);
        LoadResult load = WorkerJson.Read<LoadResult>(JsonNode.Parse("""
            {"model_name": "gpt2", "model_class": "GPT2LMHeadModel", "tokenizer_name": null, "tokenizer_class": "GPT2Tokenizer",
             "is_encoder_decoder": false, "default_method": "saliency"}
            """), "load");
        Assert.Equal("GPT2LMHeadModel", load.ModelClass);
        Assert.Throws<PythonProtocolException>(() => WorkerJson.Read<LoadResult>(JsonNode.Parse("""{"is_encoder_decoder": "no"}"""), "load"));
    }

    [Fact]
    public async Task The_worker_answers_an_unknown_operation_and_requests_before_init_with_protocol_errors_and_goes_on()
    {
        using var input = new MemoryStream();
        await WorkerProtocol.WriteAsync(input, new WorkerMessage(new JsonObject { ["id"] = 1, ["op"] = "bogus" }, []), 100);
        await WorkerProtocol.WriteAsync(input, new WorkerMessage(WorkerJson.Header(new WorkerRequest(2, WorkerOperation.TestCrash, WorkerJson.ToNode(new TestCrashArguments("abort")))), []), 100);
        await WorkerProtocol.WriteAsync(input, new WorkerMessage(WorkerJson.Header(new WorkerRequest(3, WorkerOperation.Shutdown)), []), 100);
        input.Position = 0;
        using var output = new MemoryStream();
        Assert.Equal(0, await WorkerServer.RunAsync(input, output, 100));
        output.Position = 0;
        var replies = new List<WorkerReply>();
        while (await WorkerProtocol.ReadAsync(output, 100) is { } message)
        {
            replies.Add(WorkerJson.Read<WorkerReply>(message.Header, "reply"));
        }

        Assert.Equal([1L, 2L, 3L], replies.Select(r => r.Id));
        Assert.False(replies[0].Ok);
        Assert.Equal(WorkerErrorKind.Protocol, replies[0].Error!.Kind);
        Assert.Contains("bogus", replies[0].Error!.Message, StringComparison.Ordinal);
        Assert.Equal(WorkerErrorKind.Protocol, replies[1].Error!.Kind);
        Assert.Contains("before 'init'", replies[1].Error!.Message, StringComparison.Ordinal);
        Assert.True(replies[2].Ok);
    }
}
