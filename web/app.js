// evchat page script
