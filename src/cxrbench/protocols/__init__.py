"""The measurement protocols, each a plug-in behind :class:`cxrbench.protocols.base.Protocol`.

One registry line per protocol; the run kit beneath them imports none, and none imports another.
"""
from cxrbench.protocols.base import Plan, Protocol, RenderRequest, get_protocol, list_protocols, register_protocol
from cxrbench.protocols.baseline.protocol import BaselineProtocol
from cxrbench.protocols.crossdata.protocol import CrossDataProtocol
from cxrbench.protocols.multilabel.protocol import MultiLabelProtocol
from cxrbench.protocols.paper.protocol import PaperProtocol
from cxrbench.protocols.robust.protocol import RobustProtocol
from cxrbench.protocols.studies.protocol import StudiesProtocol

register_protocol(PaperProtocol())
register_protocol(RobustProtocol())
register_protocol(MultiLabelProtocol())
register_protocol(StudiesProtocol())
register_protocol(CrossDataProtocol())
register_protocol(BaselineProtocol())

__all__ = ["Plan", "Protocol", "RenderRequest", "get_protocol", "list_protocols", "register_protocol"]
