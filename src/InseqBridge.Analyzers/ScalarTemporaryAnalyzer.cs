using System.Collections.Immutable;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace InseqBridge.Analyzers;

/// <summary>
/// Reports TorchSharp <c>Scalar</c> temporaries nobody disposes. TorchSharp passes a scalar's native handle to libtorch
/// as a bare pointer, so a <c>Scalar</c> created implicitly (<c>t * 0.5</c>, <c>t.add(u)</c> with its default alpha)
/// is unreachable while the native call runs: a garbage collection triggered on another thread can finalize it and
/// free the native scalar under the running operator. Code that may run on service threads uses a scalar that is
/// disposed after the call (<c>using Scalar s = 0.5.ToScalar();</c>) or one that lives for the process.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class ScalarTemporaryAnalyzer : DiagnosticAnalyzer
{
    /// <summary>An implicit conversion from a .NET number to <c>TorchSharp.Scalar</c> (or to a tensor).</summary>
    public static readonly DiagnosticDescriptor ImplicitScalar = new(
        "IB0001",
        "Implicit TorchSharp Scalar temporary",
        "'{0}' becomes a TorchSharp Scalar or Tensor that nobody disposes and the finalizer may free during the native call; pass a disposed or process-lifetime one instead",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <summary>A TorchSharp member that creates an undisposed Scalar internally.</summary>
    public static readonly DiagnosticDescriptor HiddenScalar = new(
        "IB0002",
        "TorchSharp member with a hidden Scalar temporary",
        "'{0}' creates a TorchSharp Scalar internally that the finalizer may free during the native call; {1}",
        "Reliability",
        DiagnosticSeverity.Error,
        isEnabledByDefault: true);

    /// <inheritdoc />
    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics => [ImplicitScalar, HiddenScalar];

    /// <inheritdoc />
    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterOperationAction(AnalyzeConversion, OperationKind.Conversion);
        context.RegisterOperationAction(AnalyzeInvocation, OperationKind.Invocation);
        context.RegisterOperationAction(AnalyzeBinary, OperationKind.Binary, OperationKind.CompoundAssignment);
    }

    private static void AnalyzeConversion(OperationAnalysisContext context)
    {
        var conversion = (IConversionOperation)context.Operation;
        if (conversion.OperatorMethod is { } op && (IsScalar(op.ContainingType) && IsScalar(conversion.Type) || IsTensor(op.ContainingType) && IsTensor(conversion.Type)))
        {
            context.ReportDiagnostic(Diagnostic.Create(ImplicitScalar, conversion.Syntax.GetLocation(), conversion.Operand.Syntax.ToString()));
        }
    }

    private static void AnalyzeInvocation(OperationAnalysisContext context)
    {
        var invocation = (IInvocationOperation)context.Operation;
        IMethodSymbol method = invocation.TargetMethod;
        string? advice = HiddenScalarAdvice(method);
        if (advice is not null)
        {
            context.ReportDiagnostic(Diagnostic.Create(HiddenScalar, invocation.Syntax.GetLocation(), method.Name, advice));
        }
    }

    private static void AnalyzeBinary(OperationAnalysisContext context)
    {
        (IMethodSymbol? op, IOperation? left, IOperation? right) = context.Operation switch
        {
            IBinaryOperation b => (b.OperatorMethod, b.LeftOperand, b.RightOperand),
            ICompoundAssignmentOperation c => (c.OperatorMethod, c.Target, c.Value),
            _ => (null, null, null),
        };
        if (op is null || !IsTensor(op.ContainingType) || op.Parameters.Length != 2)
        {
            return;
        }

        // operator + forwards to add(x) (hidden alpha); a number on either side becomes a Scalar inside TorchSharp
        // (or at the call site); scalar - tensor and scalar / tensor add or multiply through another hidden Scalar.
        bool hidden = op.Name == "op_Addition"
            || (op.Name is "op_Subtraction" or "op_Division" && !IsTensor(op.Parameters[0].Type))
            || !IsTensorOrScalar(op.Parameters[0].Type) || !IsTensorOrScalar(op.Parameters[1].Type);
        if (hidden)
        {
            context.ReportDiagnostic(Diagnostic.Create(HiddenScalar, context.Operation.Syntax.GetLocation(), "operator " + OperatorText(op.Name),
                "use the method form with tensors or with a disposed or process-lifetime Scalar (for +: a.add(b, alpha))"));
            return;
        }

        if (Converted(op.Parameters[0].Type, left) || Converted(op.Parameters[1].Type, right))
        {
            IOperation operand = Converted(op.Parameters[0].Type, left) ? left! : right!;
            context.ReportDiagnostic(Diagnostic.Create(ImplicitScalar, operand.Syntax.GetLocation(), operand.Syntax.ToString()));
        }
    }

    private static bool Converted(ITypeSymbol parameter, IOperation? operand) =>
        IsScalar(parameter) && !IsScalar(operand?.Type) || IsTensor(parameter) && !IsTensor(operand?.Type);

    private static string OperatorText(string name) => name switch
    {
        "op_Addition" => "+",
        "op_Subtraction" => "-",
        "op_Multiply" => "*",
        "op_Division" => "/",
        "op_Modulus" => "%",
        "op_Equality" => "==",
        "op_Inequality" => "!=",
        "op_LessThan" => "<",
        "op_LessThanOrEqual" => "<=",
        "op_GreaterThan" => ">",
        "op_GreaterThanOrEqual" => ">=",
        _ => name,
    };

    private static bool IsTensorOrScalar(ITypeSymbol? type) => IsTensor(type) || IsScalar(type);

    private static string? HiddenScalarAdvice(IMethodSymbol method)
    {
        INamedTypeSymbol? type = method.ContainingType;
        if (type is null)
        {
            return null;
        }

        // Tensor.add(x) / add_(x) forward to add(x, alpha: 1) with an implicit Scalar.
        if ((method.Name == "add" || method.Name == "add_") && method.Parameters.Length == 1 && (IsTensor(type) || IsTorch(type)))
        {
            return "pass the alpha explicitly with a disposed or process-lifetime Scalar";
        }

        if ((method.Name == "add") && IsTorch(type) && method.Parameters.Length == 2)
        {
            return "pass the alpha explicitly with a disposed or process-lifetime Scalar";
        }

        // torch.arange(start, stop) and arange(stop) forward to arange(start, stop, 1) with implicit Scalars.
        if (method.Name == "arange" && IsTorch(type) && (method.Parameters.Length < 3 || !IsScalar(method.Parameters[2].Type)))
        {
            return "pass start, stop and step as disposed Scalars (SafeScalars.Arange)";
        }

        // TensorExtensionMethods.ToSingle()/ToDouble()/... read the value through a temporary Scalar.
        if (type.Name == "TensorExtensionMethods" && type.ContainingNamespace?.ToDisplayString() == "TorchSharp"
            && method.Name.StartsWith("To", System.StringComparison.Ordinal) && method.Parameters.Length == 0
            && method.IsExtensionMethod && method.Name is "ToSingle" or "ToDouble" or "ToInt32" or "ToInt64" or "ToInt16"
                or "ToByte" or "ToSByte" or "ToBoolean" or "ToHalf" or "ToBFloat16" or "ToComplexFloat32" or "ToComplexFloat64"
                or "ToComplex32" or "ToComplex64")
        {
            return "read the value with item<T>() instead";
        }

        return null;
    }

    private static bool IsScalar(ITypeSymbol? type) =>
        type is { Name: "Scalar" } && type.ContainingNamespace?.ToDisplayString() == "TorchSharp";

    private static bool IsTensor(ITypeSymbol? type) =>
        type is { Name: "Tensor", ContainingType: { Name: "torch" } torch } && torch.ContainingNamespace?.ToDisplayString() == "TorchSharp";

    private static bool IsTorch(ITypeSymbol? type) =>
        type is { Name: "torch", ContainingType: null } && type.ContainingNamespace?.ToDisplayString() == "TorchSharp";
}
